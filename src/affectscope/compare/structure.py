"""Structure-level comparison: RSA between RDMs and Gromov-Wasserstein alignment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from affectscope.compare.pairing import CompareError, OnMissing, cluster_members, given_clusters, item_clusters, pair
from affectscope.compare.gw import TIE, GWResult, gw_align
from affectscope.compare.rsa import (
    RDM, RDMMetric, RSAMethod, bootstrap_items, exchangeable_share, permutation_test, rdm, rsa_statistic,
)
from affectscope.ratings import KeyMode, Ratings
from affectscope.taxonomy import get_category_set


def pattern_columns(r: Ratings, columns: Sequence[str] | None = None, other: Ratings | None = None) -> list[str]:
    """The columns whose values make an item's pattern: ``columns``; else the category columns,
    or the scale columns, that ``r`` shares by name with ``other`` (so that a rater with emotion
    probabilities and valence is compared with valence norms on valence, not on its emotions);
    else ``r``'s own category columns, else its scale columns."""
    if columns is not None:
        return list(columns)
    if other is not None:
        for kind in ("category", "scale"):
            shared = [c for c in r.columns_of(kind) if c in other.columns and other.columns[c].kind == kind]
            if shared:
                return shared
    cols = r.columns_of("category") or r.columns_of("scale")
    if not cols:
        raise CompareError(f"{r.rater.name} has no category or scale columns to compare structures on")
    return cols


def item_categories(r: Ratings, source: str) -> np.ndarray:
    """Each item's category from ``source``: a column of ``r`` (missing values become ``"?"``), or
    ``"top"``: the most chosen of ``r``'s category columns."""
    if source == "top":
        cats = r.columns_of("category")
        if not cats:
            raise CompareError(f"categories='top' needs category columns; {r.rater.name} has none. "
                               f"Name a column instead (one of {list(r.columns)})")
        return _most_chosen(r, cats)
    if source not in r.data.columns:
        raise CompareError(f"no column {source!r} in {r.rater.name} to take item categories from; "
                           f"columns are {list(r.columns)} (or 'top' for the most chosen category)")
    return r.data[source].astype(object).where(r.data[source].notna(), "?").astype(str).to_numpy()


def top_category(r: Ratings, taxonomy: str) -> np.ndarray:
    """Each item's most chosen category of ``taxonomy``; tied top categories are all kept, joined
    by ``|`` in taxonomy order (``"awe|joy"``), never broken silently (see :func:`_most_chosen`)."""
    cols = list(get_category_set(taxonomy).columns)
    missing = [c for c in cols if c not in r.columns]
    if missing:
        raise CompareError(f"{r.rater.name} lacks category columns {missing[:3]} of {taxonomy}")
    return _most_chosen(r, cols)


def _most_chosen(r: Ratings, cols: list[str]) -> np.ndarray:
    """Each item's column of ``cols`` with the largest value; all of them, joined by :data:`TIE`,
    where several share it (309 of Cowen & Keltner's 2,185 videos have a tie: breaking it by
    taxonomy order moved category matching from 0.230 to 0.280 at n = 200)."""
    v = r.data[cols].to_numpy(float)
    top = np.isclose(v, np.nanmax(v, axis=1, keepdims=True), rtol=0, atol=1e-12)
    return np.array([TIE.join(c for c, t in zip(cols, row, strict=True) if t) for row in top], dtype=object)


def most_typical(r: Ratings, taxonomy: str, n: int) -> list[str]:
    """The ``n`` items whose top category has the largest share (most category-typical), as in
    Asanuma et al. (2025) (top 100 / 250); ties broken by item id."""
    cols = list(get_category_set(taxonomy).columns)
    share = r.data[cols].to_numpy(float).max(axis=1)
    order = sorted(range(len(share)), key=lambda i: (-share[i], r.item_ids[i]))
    return [r.item_ids[i] for i in order[:n]]


@dataclass
class StructureComparison:
    """RSA (and optionally GW) between two structures over the same items.

    Attributes
    ----------
    rsa : dict
        ``statistic``, ``method``, ``p_value`` (permutation), ``ci`` (item bootstrap) and ``n_items``.
    gw : GWResult or None
    rdm_a, rdm_b : RDM
        The two compared RDMs (for plots).
    """

    rsa: dict[str, Any]
    gw: GWResult | None
    a_name: str
    b_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    rdm_a: RDM | None = None
    rdm_b: RDM | None = None
    categories: np.ndarray | None = None

    def summary(self) -> str:
        r = self.rsa
        lines = [f"{self.a_name} vs {self.b_name}: {r['n_items']} items, RDM metric {self.settings.get('metric')}"]
        if self.settings.get("columns_a") is not None:
            ca, cb = self.settings["columns_a"], self.settings["columns_b"]
            lines.append(f"patterns over {', '.join(ca)}" if ca == cb else
                         f"patterns over {', '.join(ca)} ({self.a_name}) and {', '.join(cb)} ({self.b_name})")
        p = f", p = {r['p_value']:.4f} ({r['n_perm']} permutations)" if r.get("p_value") is not None else ""
        ci = (f", 95% CI [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] ({r['n_boot']} bootstrap resamples)" if r.get("ci")
              else " (no CI: n_boot=1000, CLI --n-boot 1000, gives a bootstrap CI)")
        lines.append(f"RSA {r['method']}: {r['statistic']:.3f}{p}{ci}")
        if self.settings.get("groups_note"):
            lines.append(f"  ({self.settings['groups_note']})")
        if r.get("n_degenerate"):
            lines.append(f"  ({r['n_degenerate']} of {r['n_boot']} bootstrap resamples gave no statistic and were left out)")
        if self.gw is not None:
            g = self.gw
            lines.append(f"GW: objective {g.value:.4g} at epsilon {g.epsilon:.3g} ({len(g.trials)} epsilons, {g.seconds:.1f} s)")
            moved = [e for e in g.null_epsilons if not np.isclose(e, g.epsilon)]
            if moved:
                lines.append(f"  (the shuffled null underflowed at epsilon {g.epsilon:.3g} in {len(moved)} of {len(g.null_epsilons)} "
                             f"repetitions; those were solved at {min(moved):.3g}-{max(moved):.3g}, the next epsilons up the grid)")
            if not g.null_epsilons:
                lines.append("  (no shuffled null: its chance level is unknown; n_null=20, CLI --n-null 20, measures it with a p-value)")
            ties = self.settings.get("n_tied_categories")
            if ties:
                lines.append(f"  ({ties} items have tied top categories: a category match counts when the top sets intersect, "
                             "in the null too)")
            n_null = len(g.null_epsilons)
            if 0 < n_null < 20:
                lines.append(f"  ({n_null} shuffles: p cannot fall below 1/{n_null + 1} = {1 / (n_null + 1):.3f}; "
                             "20 or more (--n-null 20) let p < 0.05 be reached)")
            for k, v in g.matching.items():
                null = g.null.get(k)
                nul = (f"   null {null['mean']:.3f} [{null['lo']:.3f}, {null['hi']:.3f}], p = {null['p']:.3f} ({null['n']} shuffles)"
                       if null else "")
                lines.append(f"  {k:14s} {v:.3f}{nul}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a_name, "b": self.b_name, "settings": self.settings, "rsa": self.rsa,
                "gw": self.gw.to_dict() if self.gw else None}


def compare_structure(
    a: "Ratings | RDM",
    b: "Ratings | RDM",
    *,
    columns_a: Sequence[str] | None = None,
    columns_b: Sequence[str] | None = None,
    metric: "RDMMetric | Literal['auto']" = "auto",
    method: RSAMethod = "spearman",
    n_perm: int = 1000,
    n_boot: int = 0,
    gw: bool = True,
    categories: "Sequence[str] | np.ndarray | str | None" = None,
    key: KeyMode = "item_id",
    on_missing: OnMissing = "raise",
    random_state: int = 0,
    groups: "str | Mapping[str, Any] | Sequence[Any] | None" = "auto",
    engine: str = "local",
    **gw_options: Any,
) -> StructureComparison:
    """Compare the dissimilarity structures of two raters (or two descriptions) of the same items.

    Parameters
    ----------
    a, b : Ratings or RDM
        Ratings are paired by item and turned into RDMs over ``columns_a`` / ``columns_b``
        (default: the category columns both tables share by name, else the shared scale columns,
        else each table's own category columns, else its scale columns; the summary names them).
    metric : {"auto", "correlation", "cosine", "euclidean", "rsatoolbox_euclidean"}
        How item patterns become dissimilarities (``rsatoolbox_euclidean``: rsatoolbox's
        "euclidean", the squared distance divided by the number of columns). ``"auto"``: ``"correlation"`` for category
        distributions (their shape, as in rsatoolbox and Cowen & Keltner), ``"euclidean"`` where
        either side's patterns are rating scales (a position in the affective space; 1 - r across
        valence and arousal is degenerate).
    method : {"pearson", "spearman", "kendall_tau_a"}
    n_perm, n_boot : int
        Permutation test and item-bootstrap CI of the RSA statistic (0 skips).
    gw : bool
        Also align with Gromov-Wasserstein (see :func:`affectscope.compare.gw.gw_align` for
        ``gw_options``: eps_range, search, n_steps, n_null ...).
    categories : array-like or str, optional
        A category per item for category-level matching (any item of the same category counts):
        an array in the paired order (``a``'s order of the shared items), or, with two Ratings, a column of ``b`` holding each item's
        category (e.g. OASIS's ``category``), or ``"top"`` for each item's most chosen category
        among ``b``'s category columns. Read after pairing, so dropped items cannot shift it.
    groups : "auto", column name, mapping, array or None, default "auto"
        Clusters of related items (OASIS's themes, the frames of one clip). The permutation test
        then relabels whole clusters (each trades places with a cluster of the same size) and the
        bootstrap resamples whole clusters. With two Ratings: a column of the human (``b``) table,
        else of ``a``, or ``{item_id: cluster}``; ``"auto"``: ``b``'s ``theme`` column where it has
        one (``norms:oasis``), else items. With two RDMs: a mapping or an array in item order
        (``"auto"``: items). ``None``: items. The summary says which was used.
    engine : {"local", "ray"}, default "local"
        ``"ray"``: the permutations, bootstrap resamples and GW null repetitions run as Ray tasks
        (drawn from the same seeds: the results equal the local engine's).
    """
    if isinstance(a, Ratings) and isinstance(b, Ratings):
        p = pair(a, b, key=key, on_missing=on_missing)
        cols_a, cols_b = pattern_columns(p.left, columns_a, p.right), pattern_columns(p.right, columns_b, p.left)
        if metric == "auto":
            categorical = all(t.columns[c].kind == "category" for t, cols in ((p.left, cols_a), (p.right, cols_b)) for c in cols)
            metric = "correlation" if categorical else "euclidean"
        ra, rb = rdm(p.left, columns=cols_a, metric=metric), rdm(p.right, columns=cols_b, metric=metric)
        names = (a.rater.name, b.rater.name)
        if isinstance(categories, str):
            categories = item_categories(p.right, categories)
        cluster_of, group_note = item_clusters(p, groups)
    elif isinstance(a, RDM) and isinstance(b, RDM):
        cluster_of, group_note = _rdm_clusters(a.item_ids, groups)  # arrays are in a's item order
        if isinstance(categories, str):
            raise CompareError(f"categories={categories!r} names a column, which needs two Ratings; with RDMs give an array")
        if a.item_ids != b.item_ids:
            shared = [i for i in a.item_ids if i in set(b.item_ids)]
            if on_missing == "raise" or not shared:
                raise CompareError(f"the RDMs cover different items ({a.n} vs {b.n}, {len(shared)} shared); pass on_missing='drop'")
            a, b = a.subset(shared), b.subset(shared)
        ra, rb = a, b
        names = ("a", "b")
        if metric == "auto":  # the RDMs carry their own
            metric = ra.metric if ra.metric == rb.metric else f"{ra.metric} / {rb.metric}"
    else:
        raise CompareError("give two Ratings or two RDMs")
    rng = np.random.default_rng(random_state)
    stat = rsa_statistic(ra.vector, rb.vector, method)
    codes = None if cluster_of is None else np.array([str(cluster_of[i]) for i in ra.item_ids], dtype=object)
    rsa: dict[str, Any] = {"method": method, "statistic": stat, "n_items": ra.n, "p_value": None, "n_perm": n_perm, "ci": None,
                           "n_clusters": len(set(codes)) if codes is not None else ra.n, "n_boot": n_boot}
    if codes is not None:
        clusters = cluster_members(codes)
        rsa["movable_share"] = exchangeable_share(clusters)
        if n_perm and rsa["movable_share"] < 0.5:
            group_note = (f"{group_note}; only {rsa['movable_share']:.0%} of the items sit in clusters that have another of "
                          "the same size, so the cluster permutation can move few of them and its p-value is conservative")
    if n_perm:
        rsa["p_value"], _ = permutation_test(ra, rb, method, n_perm=n_perm, rng=rng, groups=codes, engine=engine)
    if n_boot:
        boots = bootstrap_items(ra, rb, method, n_boot=n_boot, rng=rng, groups=codes, engine=engine)
        ok = boots[np.isfinite(boots)]
        rsa["n_degenerate"] = int(n_boot - len(ok))
        rsa["ci"] = (float(np.quantile(ok, 0.025)), float(np.quantile(ok, 0.975))) if len(ok) else None
    result = gw_align(ra, rb, categories=None if categories is None else np.asarray(categories), random_state=random_state,
                      engine=engine, **gw_options) if gw else None
    settings = {"metric": metric, "method": method, "random_state": random_state,
                "groups": groups if isinstance(groups, str) or groups is None else "given", "groups_note": group_note}
    if categories is not None:
        settings["n_tied_categories"] = int(sum(TIE in str(c) for c in categories))
    if isinstance(a, Ratings):
        settings.update(columns_a=cols_a, columns_b=cols_b)
    return StructureComparison(rsa, result, names[0], names[1], settings,
                               rdm_a=ra, rdm_b=rb, categories=None if categories is None else np.asarray(categories))


def _rdm_clusters(ids: Sequence[str], groups: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Clusters for two RDMs: a mapping or an array in item order; ``"auto"`` and ``None``: items."""
    if groups is None or (isinstance(groups, str) and groups == "auto"):
        return None, None
    if isinstance(groups, str):
        raise CompareError(f"groups={groups!r} names a column, which needs two Ratings; with RDMs give a mapping "
                           "{item_id: cluster} or an array in item order")
    return given_clusters(ids, groups)
