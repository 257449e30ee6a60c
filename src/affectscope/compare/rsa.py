"""Representational dissimilarity matrices and their comparison (RSA)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from affectscope.compare.pairing import CompareError, cluster_members
from affectscope.ratings import Ratings

RDMMetric = Literal["correlation", "cosine", "euclidean", "rsatoolbox_euclidean"]
RDM_METRICS = ("correlation", "cosine", "euclidean", "rsatoolbox_euclidean")
RSAMethod = Literal["pearson", "spearman", "kendall_tau_a"]
RSA_METHODS: tuple[str, ...] = ("pearson", "spearman", "kendall_tau_a")


@dataclass(frozen=True)
class RDM:
    """A dissimilarity matrix over items, stored as its upper triangle (scipy's condensed form).

    Attributes
    ----------
    vector : numpy.ndarray
        Condensed dissimilarities, length n(n-1)/2.
    item_ids : tuple of str
    metric : str
    """

    vector: np.ndarray
    item_ids: tuple[str, ...]
    metric: str

    @property
    def n(self) -> int:
        return len(self.item_ids)

    def matrix(self) -> np.ndarray:
        return squareform(self.vector)

    def subset(self, item_ids: Sequence[str]) -> "RDM":
        pos = {i: k for k, i in enumerate(self.item_ids)}
        idx = [pos[i] for i in item_ids]
        m = self.matrix()[np.ix_(idx, idx)]
        return RDM(squareform(m, checks=False), tuple(item_ids), self.metric)


def rdm(data: "Ratings | np.ndarray", *, columns: Sequence[str] | None = None, metric: RDMMetric = "correlation",
        item_ids: Sequence[str] | None = None) -> RDM:
    """Dissimilarities between the items' patterns over ``columns``.

    ``correlation`` is 1 - Pearson r between item patterns (as rsatoolbox's ``calc_rdm``),
    ``cosine`` 1 - cosine similarity, ``euclidean`` plain Euclidean distance, and
    ``rsatoolbox_euclidean`` what rsatoolbox calls "euclidean": the squared Euclidean distance
    divided by the number of columns (channels), for replicating rsatoolbox analyses.
    """
    if metric not in RDM_METRICS:
        raise CompareError(f"metric must be one of {', '.join(repr(m) for m in RDM_METRICS)}, not {metric!r}")
    if isinstance(data, Ratings):
        cols = list(columns) if columns is not None else (data.columns_of("category") or data.columns_of("scale"))
        x = data.data[cols].to_numpy(float)
        ids = tuple(data.item_ids)
    else:
        x = np.asarray(data, float)
        ids = tuple(item_ids) if item_ids is not None else tuple(str(i) for i in range(len(x)))
    if np.isnan(x).any():
        rows = [ids[i] for i in np.flatnonzero(np.isnan(x).any(axis=1))]
        raise CompareError(f"{len(rows)} items have NaN values (e.g. {rows[:3]}); drop or impute them before computing an RDM")
    if metric == "correlation":
        if x.ndim != 2 or x.shape[1] < 3:
            what = f" ({', '.join(cols)})" if isinstance(data, Ratings) else ""
            raise CompareError(
                f"correlation distance needs at least 3 values per item; these items have {x.shape[1] if x.ndim == 2 else 1}"
                f"{what}, and with 2 every pair of items is 0 or 2 apart (the sign of one difference). "
                "Use metric='euclidean' (CLI: --metric euclidean)")
        flat = np.flatnonzero(x.std(axis=1) == 0)
        if len(flat):
            raise CompareError(f"correlation distance is undefined for items with constant patterns: {[ids[i] for i in flat[:3]]}")
    if metric == "rsatoolbox_euclidean":
        n_channels = x.shape[1] if x.ndim == 2 else 1
        return RDM(pdist(x, metric="sqeuclidean") / n_channels, ids, metric)
    return RDM(pdist(x, metric=metric), ids, metric)


def kendall_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-a, in O(n log n) through scipy's tau-b and the tie counts.

    tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)) and tau_a = (C - D) / n0, where n0 = n(n-1)/2 and
    n1, n2 count tied pairs in x and y.
    """
    n = len(x)
    n0 = n * (n - 1) / 2

    def ties(v: np.ndarray) -> float:
        _, counts = np.unique(v, return_counts=True)
        return float((counts * (counts - 1) / 2).sum())

    n1, n2 = ties(x), ties(y)
    tau_b = stats.kendalltau(x, y, variant="b").statistic
    if np.isnan(tau_b):
        return 0.0
    return float(tau_b * np.sqrt((n0 - n1) * (n0 - n2)) / n0)


def rsa_statistic(a: np.ndarray, b: np.ndarray, method: RSAMethod) -> float:
    """Similarity of two condensed RDMs by ``method``."""
    if method == "pearson":
        return float(np.corrcoef(a, b)[0, 1])
    if method == "spearman":
        return float(np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1])
    if method == "kendall_tau_a":
        return kendall_tau_a(a, b)
    raise CompareError(f"method must be one of {RSA_METHODS}, not {method!r}")


def cluster_permutation(clusters: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``n`` items that moves whole clusters: each cluster's items go, in order, to
    the places of another cluster of the same size (a restricted permutation; clusters of a size no
    other cluster has stay where they are). Without clusters of equal size nothing moves."""
    perm = np.arange(n)
    by_size: dict[int, list[np.ndarray]] = {}
    for c in clusters:
        by_size.setdefault(len(c), []).append(c)
    for same in by_size.values():
        if len(same) < 2:
            continue
        for src, k in zip(same, rng.permutation(len(same)), strict=True):
            perm[src] = same[k]
    return perm


def exchangeable_share(clusters: list[np.ndarray]) -> float:
    """Share of items in clusters that have another cluster of the same size (those a restricted
    permutation can move)."""
    sizes = np.array([len(c) for c in clusters])
    n = sizes.sum()
    movable = sum(int(s) for s in sizes if (sizes == s).sum() > 1)
    return float(movable / n) if n else 0.0


def permutation_test(a: RDM, b: RDM, method: RSAMethod, *, n_perm: int, rng: np.random.Generator,
                     groups: Sequence[object] | np.ndarray | None = None, engine: str = "local") -> tuple[float, np.ndarray]:
    """One-sided p-value of the observed RSA statistic against relabelling the items of ``b``.

    With ``groups`` (a cluster code per item, e.g. OASIS's themes), whole clusters are relabelled
    instead of single items: a cluster trades places with another of the same size, so the
    dependence inside clusters survives every permutation (:func:`cluster_permutation`).
    ``engine="ray"`` computes the statistics as Ray tasks; the permutations are drawn here, in the
    same order, so the null is the same as the local engine's."""
    obs = rsa_statistic(a.vector, b.vector, method)
    va = stats.rankdata(a.vector) if method == "spearman" else a.vector
    vb = stats.rankdata(b.vector) if method == "spearman" else b.vector
    m_b = squareform(vb)
    inner: RSAMethod = "pearson" if method in ("pearson", "spearman") else method
    clusters = None if groups is None else cluster_members(groups)
    perms = [rng.permutation(b.n) if clusters is None else cluster_permutation(clusters, b.n, rng) for _ in range(n_perm)]
    null = _on_engine(_permuted_statistics, (va, m_b, inner), perms, engine)
    p = (1 + int((null >= obs).sum())) / (1 + n_perm)
    return p, null


def _permuted_statistics(va: np.ndarray, m_b: np.ndarray, inner: RSAMethod, perms: Sequence[np.ndarray]) -> np.ndarray:
    iu = np.triu_indices(len(m_b), k=1)
    return np.array([rsa_statistic(va, m_b[perm][:, perm][iu], inner) for perm in perms], dtype=float)


def bootstrap_items(a: RDM, b: RDM, method: RSAMethod, *, n_boot: int, rng: np.random.Generator,
                    groups: Sequence[object] | np.ndarray | None = None, engine: str = "local") -> np.ndarray:
    """RSA statistics over item bootstrap samples (pairs of a resampled item with itself are left out).

    With ``groups``, whole clusters are resampled with replacement (a cluster bootstrap), each
    drawn cluster bringing all its items. ``engine="ray"``: as in :func:`permutation_test`."""
    clusters = None if groups is None else cluster_members(groups)
    draws = [rng.integers(0, a.n, a.n) if clusters is None
             else np.concatenate([clusters[c] for c in rng.integers(0, len(clusters), len(clusters))]) for _ in range(n_boot)]
    return _on_engine(_bootstrap_statistics, (a.matrix(), b.matrix(), method), draws, engine)


def _bootstrap_statistics(ma: np.ndarray, mb: np.ndarray, method: RSAMethod, draws: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(len(draws))
    for k, idx in enumerate(draws):
        i, j = np.triu_indices(len(idx), k=1)
        keep = idx[i] != idx[j]
        out[k] = rsa_statistic(ma[idx[i[keep]], idx[j[keep]]], mb[idx[i[keep]], idx[j[keep]]], method)
    return out


def _on_engine(fn: Any, shared: tuple[Any, ...], work: list[np.ndarray], engine: str, chunk: int = 50) -> np.ndarray:
    """``fn(*shared, work)`` here, or over chunks of ``work`` as Ray tasks (``shared`` put in the
    object store once), concatenated in order."""
    if engine == "local" or not work:
        return fn(*shared, work) if work else np.empty(0)
    if engine != "ray":
        raise CompareError(f"engine must be 'local' or 'ray', not {engine!r}")
    from affectscope._ray import map_tasks

    return np.concatenate(map_tasks(fn, shared, [work[k:k + chunk] for k in range(0, len(work), chunk)]))
