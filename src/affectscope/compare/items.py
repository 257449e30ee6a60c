"""Item-level agreement: correlations with bootstrap CIs, concordance, MAE, noise ceilings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from affectscope.compare.pairing import (
    CompareError, OnMissing, check_scales, cluster_members, finite_pairs, item_clusters, pair, training_overlap,
)
from affectscope.ratings import KeyMode, Ratings

CeilingMethod = Literal["sd_n", "split_half", "per_rater", "given"]


@dataclass(frozen=True)
class NoiseCeiling:
    """The highest correlation any rater could reach with the human means, given their noise.

    Attributes
    ----------
    reliability : float
        Reliability of the human item means (0-1).
    ceiling : float
        ``sqrt(reliability)``: the expected correlation of the noisy means with the true means.
    method : {"sd_n", "split_half", "per_rater", "given"}
        How it was estimated: from each item's SD and N (summary norms), from two half-samples
        (Spearman-Brown corrected), or from per-rater data (mean over random split halves).
    """

    reliability: float
    ceiling: float
    method: CeilingMethod


def ceiling_from_summary(means: np.ndarray, sds: np.ndarray, ns: np.ndarray) -> NoiseCeiling:
    """Noise ceiling from summary norms: reliability = 1 - mean(SD²/N) / var(means)."""
    means, sds, ns = (np.asarray(a, float) for a in (means, sds, ns))
    error_var = float(np.nanmean(sds**2 / ns))
    observed = float(np.nanvar(means, ddof=1))
    rel = max(0.0, 1.0 - error_var / observed) if observed > 0 else 0.0
    return NoiseCeiling(rel, float(np.sqrt(rel)), "sd_n")


def ceiling_from_split_half(half_a: np.ndarray, half_b: np.ndarray) -> NoiseCeiling:
    """Noise ceiling from two independent half-samples of raters (Spearman-Brown corrected)."""
    a, b = np.asarray(half_a, float), np.asarray(half_b, float)
    ok = ~(np.isnan(a) | np.isnan(b))
    r = float(np.corrcoef(a[ok], b[ok])[0, 1])
    rel = max(0.0, 2 * r / (1 + r)) if r > -1 else 0.0
    return NoiseCeiling(rel, float(np.sqrt(rel)), "split_half")


def ceiling_from_raters(matrix: np.ndarray, *, n_splits: int = 100, random_state: int = 0) -> NoiseCeiling:
    """Noise ceiling from an items x raters matrix (NaN where a rater skipped an item): the mean
    Spearman-Brown corrected split-half reliability over random splits of the raters."""
    m = np.asarray(matrix, float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise CompareError("per-rater data must be an items x raters matrix with at least 2 raters")
    rng = np.random.default_rng(random_state)
    rels = []
    for _ in range(n_splits):
        perm = rng.permutation(m.shape[1])
        h = m.shape[1] // 2
        with np.errstate(invalid="ignore"):
            a = np.nanmean(m[:, perm[:h]], axis=1)
            b = np.nanmean(m[:, perm[h:]], axis=1)
        rels.append(ceiling_from_split_half(a, b).reliability)
    rel = float(np.mean(rels))
    return NoiseCeiling(rel, float(np.sqrt(rel)), "per_rater")


def concordance(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient: agreement in value, not only in order."""
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return float(2 * cov / (x.var() + y.var() + (mx - my) ** 2))


def rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of ``x`` and ``y`` (``(resamples, n)`` arrays); NaN where a row is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))


def _rowwise_ccc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    mx, my = x.mean(axis=1), y.mean(axis=1)
    cov = ((x - mx[:, None]) * (y - my[:, None])).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * cov / (x.var(axis=1) + y.var(axis=1) + (mx - my) ** 2)


#: Below this many items a correlation's CI is too wide to say much: compare_items says so.
MIN_N = 10


#: CI methods of :func:`bootstrap_cis` (both through :func:`scipy.stats.bootstrap`).
CI_METHODS = ("bca", "percentile")
#: Above this many resampled units (items, or clusters) BCa's jackknife (one statistic per unit
#: left out, each over all the others: quadratic) costs minutes: the percentile CI is used instead.
BCA_MAX_UNITS = 20_000


def _three_statistics(bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``(3, resamples)``: Pearson, Spearman and Lin's CCC of each row of ``bx``/``by``; all three
    NaN where either side is constant (undefined correlations; the CCC is left out alike)."""
    bx, by = np.atleast_2d(bx), np.atleast_2d(by)
    ok = (bx.std(axis=1) > 0) & (by.std(axis=1) > 0)
    out = np.stack([rowwise_pearson(bx, by), rowwise_pearson(stats.rankdata(bx, axis=1), stats.rankdata(by, axis=1)),
                    _rowwise_ccc(bx, by)])
    out[:, ~ok] = np.nan
    return out


def bootstrap_cis(x: np.ndarray, y: np.ndarray, *, n_boot: int, ci: float, rng: np.random.Generator,
                  groups: np.ndarray | None = None, method: str = "bca") -> dict[str, Any]:
    """CIs of Pearson, Spearman and Lin's CCC by :func:`scipy.stats.bootstrap` over items resampled
    with replacement (paired), or, with ``groups`` (a cluster code per item), over whole clusters
    (the cluster bootstrap: items of one cluster are not independent, e.g. OASIS's "Dog 1",
    "Dog 2" ...; the CI then reflects the number of clusters, not of items).

    ``method="bca"`` (bias-corrected and accelerated; second-order accurate, the better choice for
    skewed statistics such as correlations near 1) or ``"percentile"``. A resample in which either
    side is constant leaves the correlations undefined; it is left out of **every** statistic
    alike and counted (``n_degenerate``); BCa cannot use such a distribution, so the percentile CI
    of the defined resamples is given instead, as it is above :data:`BCA_MAX_UNITS` resampled
    units; ``method`` in the result says which was used. Bounds are clipped to [-1, 1]; ``None``
    bounds when every resample is degenerate.
    """
    import warnings

    if method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, got {method!r}")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if groups is None:
        data: tuple[np.ndarray, ...] = (x, y)

        def statistic(bx: np.ndarray, by: np.ndarray, axis: int = -1) -> np.ndarray:
            return _three_statistics(np.moveaxis(bx, axis, -1).reshape(-1, bx.shape[axis]),
                                     np.moveaxis(by, axis, -1).reshape(-1, by.shape[axis])).reshape(3, *bx.shape[:-1])
        units = len(x)
    else:
        members = cluster_members(groups)
        data = (np.arange(len(members)),)

        def statistic(clusters: np.ndarray, axis: int = -1) -> np.ndarray:
            c = np.moveaxis(clusters, axis, -1)
            rows = c.reshape(-1, c.shape[-1])
            out = np.empty((3, len(rows)))
            for k, row in enumerate(rows):
                idx = np.concatenate([members[g] for g in row])
                out[:, k] = _three_statistics(x[idx], y[idx])[:, 0]
            return out.reshape(3, *c.shape[:-1])
        units = len(members)
    used = method if units <= BCA_MAX_UNITS else "percentile"
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # a degenerate distribution is detected below and said in the result (n_degenerate, method)
        warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
        res = stats.bootstrap(data, statistic, paired=groups is None, vectorized=True, n_resamples=n_boot, confidence_level=ci,
                              method="BCa" if used == "bca" else "percentile", random_state=rng,
                              batch=max(1, min(n_boot, 2_000_000 // max(len(x), 1))))
    draws = np.asarray(res.bootstrap_distribution).reshape(3, -1)
    degenerate = int(np.isnan(draws).any(axis=0).sum())
    result: dict[str, Any] = {"n_degenerate": degenerate}
    lows, highs = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    if degenerate or not (np.isfinite(lows).all() and np.isfinite(highs).all()):
        used = "percentile"
        alpha = (1 - ci) / 2
        lows, highs = np.full(3, np.nan), np.full(3, np.nan)
        for k in range(3):
            vals = draws[k][np.isfinite(draws[k])]
            if len(vals):
                lows[k], highs[k] = np.quantile(vals, alpha), np.quantile(vals, 1 - alpha)
    for k, m in enumerate(("pearson", "spearman", "ccc")):
        result[m] = (None, None) if not np.isfinite(lows[k]) else (float(np.clip(lows[k], -1.0, 1.0)), float(np.clip(highs[k], -1.0, 1.0)))
    result["method"] = used
    return result


@dataclass
class ItemComparison:
    """Per-scale agreement of a rater with humans.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per scale: n, pearson (+ CI), spearman (+ CI), ccc (+ CI), mae, noise ceiling,
        its method, and pearson / ceiling.
    rater, humans : str
    dropped : dict
        Items left out and why (only with ``on_missing="drop"``).
    settings : dict
    values : dict
        Per scale, the compared values: a DataFrame indexed by item id with columns ``rater``
        and ``human`` (for scatter plots and further analysis).
    notes : list of str
        Warnings about the comparison itself, e.g. items the rater was trained on
        (the table's ``n_training`` column counts them per scale).
    """

    table: pd.DataFrame
    rater: str
    humans: str
    dropped: dict[str, list[str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    values: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.rater} vs {self.humans}"]
        ci = int(round(self.settings.get("ci", 0.95) * 100))
        lines.append(f"{'scale':12s} {'n':>5s}  {'pearson r [' + str(ci) + '% CI]':>24s}  {'spearman':>8s}  {'CCC':>6s}  {'MAE':>6s}  {'ceiling':>8s}")
        for name, r in self.table.iterrows():
            ceil = f"{r['ceiling']:.3f}" if pd.notna(r["ceiling"]) else "-"
            lines.append(
                f"{name:12s} {int(r['n']):5d}  {r['pearson']:7.3f} [{r['pearson_lo']:.3f}, {r['pearson_hi']:.3f}]"
                f"  {r['spearman']:8.3f}  {r['ccc']:6.3f}  {r['mae']:6.3f}  {ceil:>8s}"
            )
        methods = {m for m in self.table["ceiling_method"].dropna()}
        if methods:
            lines.append(f"noise ceiling from: {', '.join(sorted(methods))}")
        for k, v in self.dropped.items():
            lines.append(f"left out: {len(v)} {k.replace('_', ' ')}")
        lines += self.notes
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rater": self.rater, "humans": self.humans, "settings": self.settings, "notes": self.notes,
            "dropped": {k: len(v) for k, v in self.dropped.items()},
            "scales": {k: {c: (None if pd.isna(v) else v) for c, v in row.items()} for k, row in self.table.to_dict("index").items()},
        }


def compare_items(
    rater: Ratings,
    humans: Ratings,
    *,
    columns: Sequence[str] | None = None,
    key: KeyMode = "item_id",
    on_missing: OnMissing = "raise",
    n_boot: int = 2000,
    ci: float = 0.95,
    ceilings: Mapping[str, NoiseCeiling] | None = None,
    random_state: int = 0,
    groups: "str | Mapping[str, Any] | None" = "auto",
    ci_method: str = "bca",
) -> ItemComparison:
    """Compare rating scales item by item.

    Parameters
    ----------
    rater, humans : Ratings
    columns : sequence of str, optional
        Scales to compare (default: every ``scale`` column both tables have).
    key : {"item_id", "name", "stem"}
    on_missing : {"raise", "drop"}
        What to do with unmatched items, items the rater failed on, and NaNs.
    n_boot : int
        Bootstrap resamples over items for the CIs.
    ci : float
    ceilings : mapping, optional
        Noise ceilings per column (e.g. from :func:`ceiling_from_raters`). Otherwise, where the
        human table has ``<column>_sd`` and ``<column>_n``, the ceiling is estimated from them.
    random_state : int
    groups : "auto", column name, mapping or None, default "auto"
        Clusters of related items for the CIs (a cluster bootstrap: whole clusters are resampled).
        A column of the human table (else of the rater's), or ``{item_id: cluster}``. ``"auto"``:
        the human table's ``theme`` column where it has one (``norms:oasis``: 248 themes), else
        items. ``None``: resample items. The notes say which was used.
    ci_method : {"bca", "percentile"}, default "bca"
        Bootstrap CI method (:func:`bootstrap_cis`, through :func:`scipy.stats.bootstrap`). The
        table's ``ci_method`` column says which each scale got (percentile where BCa cannot be
        computed: degenerate resamples, or more than :data:`BCA_MAX_UNITS` units).

    Returns
    -------
    ItemComparison
    """
    if ci_method not in CI_METHODS:
        raise CompareError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    cols = list(columns) if columns is not None else [c for c in rater.columns_of("scale") if c in humans.columns_of("scale")]
    if not cols:
        raise CompareError(f"no scale in common: rater has {rater.columns_of('scale')}, humans have {humans.columns_of('scale')}; "
                           "columns are matched by name: rename one (Ratings.rename; CLI: --rename human:OLD=NEW)")
    for c in cols:
        for side, r in (("rater", rater), ("humans", humans)):
            if c not in r.columns:
                raise CompareError(f"{side} table has no column {c!r}; it has {list(r.columns)}")
        check_scales(rater, humans, c)
    p = pair(rater, humans, key=key, on_missing=on_missing)
    rng = np.random.default_rng(random_state)
    ids = p.left.item_ids
    cluster_of, group_note = item_clusters(p, groups)
    notes: list[str] = [group_note] if group_note else []
    rows = {}
    values: dict[str, pd.DataFrame] = {}
    dropped = dict(p.dropped)
    for c in cols:
        x, y, nan_ids = finite_pairs(p.left.values(c).to_numpy(float), p.right.values(c).to_numpy(float), c, ids, on_missing)
        skip = set(nan_ids)
        values[c] = pd.DataFrame({"rater": x, "human": y}, index=pd.Index([i for i in ids if i not in skip], name="item_id"))
        overlap = training_overlap(p.left, list(values[c].index), [c], c)
        if overlap.note():
            notes.append(overlap.note())  # type: ignore[arg-type]
        if nan_ids:
            dropped[f"nan_{c}"] = nan_ids
        if len(x) < 3:
            raise CompareError(f"{c!r}: only {len(x)} items to compare; need at least 3")
        kept = list(values[c].index)
        codes = None if cluster_of is None else np.array([str(cluster_of[i]) for i in kept], dtype=object)
        cis = bootstrap_cis(x, y, n_boot=n_boot, ci=ci, rng=rng, groups=codes, method=ci_method)
        if len(x) < MIN_N:
            notes.append(f"{c!r}: only {len(x)} items (under {MIN_N}): its correlations and CIs say little; compare more items")
        if cis["n_degenerate"]:
            notes.append(f"{c!r}: {cis['n_degenerate']} of {n_boot} bootstrap resamples had a constant side and were left out "
                         "of every CI alike (column n_degenerate); percentile CIs of the rest (BCa needs every resample)")
        ceil = (ceilings or {}).get(c)
        if ceil is None and f"{c}_sd" in humans.columns and f"{c}_n" in humans.columns:
            h = p.right.data
            ceil = ceiling_from_summary(h[c].to_numpy(float), h[f"{c}_sd"].to_numpy(float), h[f"{c}_n"].to_numpy(float))
        r = float(stats.pearsonr(x, y)[0])
        rows[c] = {
            "n": len(x),
            "pearson": r, "pearson_lo": cis["pearson"][0], "pearson_hi": cis["pearson"][1],
            "spearman": float(stats.spearmanr(x, y)[0]), "spearman_lo": cis["spearman"][0], "spearman_hi": cis["spearman"][1],
            "ccc": concordance(x, y), "ccc_lo": cis["ccc"][0], "ccc_hi": cis["ccc"][1],
            "mae": float(np.abs(x - y).mean()),
            "ceiling": ceil.ceiling if ceil else np.nan,
            "ceiling_method": ceil.method if ceil else None,
            "r_over_ceiling": r / ceil.ceiling if ceil and ceil.ceiling > 0 else np.nan,
            "n_training": overlap.n_training,
            "n_degenerate": cis["n_degenerate"],
            "ci_method": cis["method"],
            "n_clusters": len(set(codes)) if codes is not None else len(x),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scale"
    return ItemComparison(
        table, rater.rater.name, humans.rater.name, dropped,
        {"n_boot": n_boot, "ci": ci, "ci_method": ci_method, "random_state": random_state, "key": key, "on_missing": on_missing,
         "groups": groups if isinstance(groups, str) or groups is None else "mapping"}, values, notes,
    )
