"""Cross-validated encoding models: predict brain responses (voxels, ROIs, electrodes) from activations.

Ridge regression with a regularisation chosen per target inside each training fold, and banded
ridge when several feature spaces are given (each space gets its own weight, as in himalaya's
``MultipleKernelRidgeCV`` with ``solver="random_search"``; Nunez-Elizalde et al. 2019, Dupre la Tour
et al. 2022). It runs in the kernel's eigenbasis, so all targets share one decomposition per
candidate:

1. per outer fold (``KFold``, shuffled; ``GroupKFold`` when ``groups`` name runs or sessions), each
   space's features are standardised with the training items' means and SDs, and its linear kernel
   is ``X X' / width`` (so spaces of any width start on an equal footing);
2. candidate band weights: each space alone, all equal, and ``n_iter`` draws from the flat
   Dirichlet (one space: weight 1);
3. for every candidate and ``alpha``, the generalised cross-validation error (Golub, Heath & Wahba
   1979) of every target, from the training items only: ``n ||(I - H) y||^2 / (n - tr H)^2``, the
   intercept counted in ``tr H``, which needs ``U' y`` once per candidate. Each target takes its
   best (weights, alpha);
4. the held-out items are predicted by the training fit; ``r`` per target is Pearson's r between
   the out-of-fold predictions and the data over all items.

Known answers are tested: with one space the predictions equal scikit-learn's ``Ridge`` at the
chosen alpha (times the width), the selection equals a brute-force GCV, and the held-out rows of
the data never change their own fold's fit.

Inference: a permutation test of each target's r (the predictions' items shuffled against the data,
whole clusters when ``groups`` are given), with family-wise p-values across targets from the
maximum statistic; and the noise ceiling from repeated measurements (split halves, Spearman-Brown),
by which ``r`` is normalised.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Regularisation grid (in units of the kernels' scale, which is about 1 per item).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 17))


class EncodingError(ValueError):
    """Inputs an encoding model cannot be fitted to (the message says why and the fix)."""


@dataclass
class EncodingResult:
    """An encoding model's cross-validated performance per target.

    Attributes
    ----------
    spaces : list of str
        Feature spaces (layers), in band order.
    targets : list of str
    r : numpy.ndarray ``(T,)``
        Out-of-fold prediction r per target.
    predictions : numpy.ndarray ``(n_items, T)``
        Out-of-fold predictions (each item predicted by the fold that held it out).
    alphas : numpy.ndarray ``(folds, T)``
        The regularisation each fold chose per target.
    weights : numpy.ndarray ``(folds, T, spaces)``
        The band weights each fold chose per target (sum 1).
    folds : list of numpy.ndarray
        The held-out item indices of each fold.
    p_value, p_fwe : numpy.ndarray ``(T,)`` or None
        Permutation p of r per target, and family-wise across targets (maximum statistic).
    ceiling : numpy.ndarray ``(T,)`` or None
        Noise ceiling of r (the r a perfect model of the repeatable signal would reach).
    settings : dict
    """

    spaces: list[str]
    targets: list[str]
    r: np.ndarray
    predictions: np.ndarray
    alphas: np.ndarray
    weights: np.ndarray
    folds: list[np.ndarray]
    p_value: np.ndarray | None = None
    p_fwe: np.ndarray | None = None
    ceiling: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def r_normalised(self) -> np.ndarray | None:
        """``r / ceiling`` (NaN where the ceiling is not positive); None without repeats."""
        if self.ceiling is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.ceiling > 0, self.r / self.ceiling, np.nan)

    def space_shares(self) -> dict[str, float]:
        """Each space's mean band weight over folds and targets (which layer explains the data)."""
        return {s: float(np.nanmean(self.weights[:, :, j])) for j, s in enumerate(self.spaces)}

    def table(self) -> Any:
        """One row per target: r, p, family-wise p, ceiling, normalised r, median alpha, and each space's weight."""
        import pandas as pd

        df = pd.DataFrame({"target": self.targets, "r": self.r})
        if self.p_value is not None:
            df["p"], df["p_fwe"] = self.p_value, self.p_fwe
        if self.ceiling is not None:
            df["ceiling"], df["r_normalised"] = self.ceiling, self.r_normalised
        df["alpha"] = np.median(self.alphas, axis=0)
        if len(self.spaces) > 1:
            for j, s in enumerate(self.spaces):
                df[f"weight:{s}"] = self.weights[:, :, j].mean(axis=0)
        return df.set_index("target")

    def summary(self) -> str:
        ok = np.isfinite(self.r)
        st = self.settings
        lines = [f"encoding model of {len(self.targets)} targets from {' + '.join(self.spaces)} "
                 f"({st.get('n_items')} items, {len(self.folds)}-fold {st.get('cv_kind', 'CV')}, "
                 f"{'banded ridge' if len(self.spaces) > 1 else 'ridge'}, alpha per target by GCV inside each training fold)"]
        if ok.any():
            lines.append(f"  r: median {np.median(self.r[ok]):.3f}, mean {np.mean(self.r[ok]):.3f}, max {np.max(self.r[ok]):.3f}")
        if not ok.all():
            lines.append(f"  {int((~ok).sum())} targets have no r (constant data or predictions)")
        if self.p_fwe is not None:
            lines.append(f"  {int(np.sum(self.p_fwe[ok] < 0.05))} of {int(ok.sum())} targets with family-wise p < 0.05, "
                         f"{int(np.sum(self.p_value[ok] < 0.05))} with p < 0.05 ({st.get('n_perm')} permutations"  # type: ignore[index]
                         f"{', whole clusters' if st.get('groups') else ''})")
        rn = self.r_normalised
        if rn is not None:
            good = np.isfinite(rn)
            if good.any():
                lines.append(f"  noise ceiling: median {np.nanmedian(self.ceiling):.3f}; normalised r median {np.median(rn[good]):.3f} "
                             f"({int(good.sum())} targets with a positive ceiling)")
        if len(self.spaces) > 1:
            lines.append("  band weights (mean): " + ", ".join(f"{k} {v:.2f}" for k, v in self.space_shares().items()))
        edge = st.get("alpha_at_edge", 0)
        if edge:
            lines.append(f"  ({edge} target-fold choices hit an end of the alpha grid; widen `alphas` if many do)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else [None if not np.isfinite(v) else float(v) for v in np.asarray(a, float)]

        return {"spaces": self.spaces, "targets": self.targets, "r": arr(self.r), "p": arr(self.p_value),
                "p_fwe": arr(self.p_fwe), "ceiling": arr(self.ceiling), "r_normalised": arr(self.r_normalised),
                "alpha_median": arr(np.median(self.alphas, axis=0)), "space_shares": self.space_shares(),
                "settings": self.settings}


def fit_encoding(
    spaces: Mapping[str, np.ndarray] | np.ndarray,
    brain: np.ndarray,
    *,
    targets: Sequence[str] | None = None,
    cv: int = 10,
    groups: Sequence[Any] | np.ndarray | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    n_iter: int = 20,
    n_perm: int = 1000,
    repeats: np.ndarray | None = None,
    random_state: int = 0,
) -> EncodingResult:
    """Fit and cross-validate an encoding model (see the module docstring for the method).

    Parameters
    ----------
    spaces : mapping of str to array ``(n_items, width)``, or one array
        Feature spaces (e.g. layers); several give banded ridge.
    brain : array ``(n_items, n_targets)``
        Responses per item, in the rows' order of ``spaces``; with ``repeats``, their mean.
    targets : sequence of str, optional
        Target names (default ``t0``, ``t1``, ...).
    cv : int, default 10
        Outer folds.
    groups : array ``(n_items,)``, optional
        Runs or sessions: folds hold out whole groups, and the permutation test moves whole groups.
    alphas : sequence of float
        Regularisation grid.
    n_iter : int, default 20
        Random band-weight candidates besides each space alone and all equal (banded ridge only).
    n_perm : int, default 1000
        Permutations for p-values (0 skips).
    repeats : array ``(n_repeats, n_items, n_targets)``, optional
        Repeated measurements: the noise ceiling (and ``brain`` defaults to their mean).
    random_state : int, default 0
    """
    t0 = time.perf_counter()
    xs = {"features": np.asarray(spaces)} if isinstance(spaces, np.ndarray) else {k: np.asarray(v) for k, v in spaces.items()}
    if not xs:
        raise EncodingError("no feature spaces given")
    y = np.asarray(brain, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    n = len(y)
    if y.ndim != 2:
        raise EncodingError(f"brain data must be items x targets, got shape {y.shape}")
    for k, x in xs.items():
        if x.ndim != 2 or len(x) != n:
            raise EncodingError(f"feature space {k!r} has shape {x.shape}; it needs one row per item ({n} items in the brain data)")
        if not np.isfinite(x).all():
            raise EncodingError(f"feature space {k!r} has NaN or infinite values; drop those items or fix the features")
    if not np.isfinite(y).all():
        raise EncodingError("the brain data have NaN or infinite values; drop or impute those items/targets first")
    names = list(targets) if targets is not None else [f"t{j}" for j in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise EncodingError(f"{len(names)} target names for {y.shape[1]} targets")
    alphas_arr = np.asarray(sorted(float(a) for a in alphas))
    if len(alphas_arr) == 0 or (alphas_arr <= 0).any():
        raise EncodingError("alphas must be positive numbers")
    folds, cv_kind, codes = _folds(n, cv, groups, random_state)
    candidates = _candidates(len(xs), n_iter, random_state)
    preds = np.zeros_like(y)
    chosen_alpha = np.zeros((len(folds), y.shape[1]))
    chosen_w = np.zeros((len(folds), y.shape[1], len(xs)))
    at_edge = 0
    for f, test in enumerate(folds):
        train = np.setdiff1d(np.arange(n), test)
        k_train, k_test = _kernels(list(xs.values()), train, test)
        pred, a_t, w_t = _fit_fold(k_train, k_test, y[train], alphas_arr, candidates)
        preds[test] = pred
        chosen_alpha[f], chosen_w[f] = a_t, w_t
        if len(alphas_arr) > 1:
            at_edge += int(np.sum((a_t == alphas_arr[0]) | (a_t == alphas_arr[-1])))
    r = _columnwise_r(preds, y)
    p_value = p_fwe = None
    if n_perm:
        p_value, p_fwe = _permutation_p(preds, y, r, n_perm, codes, np.random.default_rng(random_state))
    ceiling = noise_ceiling(repeats, random_state=random_state) if repeats is not None else None
    settings = {"n_items": n, "cv": len(folds), "cv_kind": cv_kind, "groups": groups is not None, "alphas": alphas_arr.tolist(),
                "n_candidates": len(candidates), "n_perm": n_perm, "random_state": random_state, "selection": "gcv",
                "alpha_at_edge": at_edge, "seconds": round(time.perf_counter() - t0, 3)}
    return EncodingResult(list(xs), names, r, preds, chosen_alpha, chosen_w, folds, p_value, p_fwe, ceiling, settings)


def _folds(n: int, cv: int, groups: Any, seed: int) -> tuple[list[np.ndarray], str, np.ndarray | None]:
    from sklearn.model_selection import GroupKFold, KFold

    if groups is None:
        if not 2 <= cv <= n:
            raise EncodingError(f"cv must be from 2 to the number of items ({n}), got {cv}")
        return [test for _, test in KFold(cv, shuffle=True, random_state=seed).split(np.zeros(n))], "KFold", None
    codes = np.asarray(groups, dtype=object).astype(str)
    if len(codes) != n:
        raise EncodingError(f"groups has {len(codes)} entries for {n} items")
    k = len(set(codes))
    if not 2 <= cv <= k:
        raise EncodingError(f"cv={cv} folds need at least as many groups; there are {k}. Fix: cv={max(2, min(k, cv))}")
    return [test for _, test in GroupKFold(cv).split(np.zeros(n), groups=codes)], "GroupKFold", codes


def _candidates(n_spaces: int, n_iter: int, seed: int) -> np.ndarray:
    if n_spaces == 1:
        return np.ones((1, 1))
    fixed = [*np.eye(n_spaces), np.full(n_spaces, 1.0 / n_spaces)]
    draws = np.random.default_rng(seed).dirichlet(np.ones(n_spaces), size=max(0, n_iter))
    return np.vstack([np.array(fixed), draws])


def _kernels(xs: Sequence[np.ndarray], train: np.ndarray, test: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each space's linear kernel over training items and test x training items, features
    standardised with the training items' statistics, divided by the width."""
    k_train, k_test = [], []
    for x in xs:
        xt = np.asarray(x[train], np.float64)
        mu, sd = xt.mean(axis=0), xt.std(axis=0)
        sd[sd == 0] = 1.0
        a = (xt - mu) / sd
        b = (np.asarray(x[test], np.float64) - mu) / sd
        k_train.append(a @ a.T / x.shape[1])
        k_test.append(b @ a.T / x.shape[1])
    return k_train, k_test


def _fit_fold(k_train: Sequence[np.ndarray], k_test: Sequence[np.ndarray], y: np.ndarray, alphas: np.ndarray,
              candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out predictions, and each target's chosen alpha and band weights, of one fold."""
    mean = y.mean(axis=0)
    yc = y - mean
    yc32 = yc.astype(np.float32)  # the projections onto the eigenvectors (most of the work) in float32
    n, t = yc.shape
    best = np.full(t, np.inf)
    best_c = np.zeros(t, dtype=int)
    best_a = np.zeros(t)
    decomps = []
    for c, w in enumerate(candidates):
        d, u = np.linalg.eigh(sum(wj * kj for wj, kj in zip(w, k_train, strict=True)))
        d = np.clip(d, 0, None)
        z2 = u.T.astype(np.float32) @ yc32
        np.square(z2, out=z2)
        shrink = (alphas[:, None] / (d[None, :] + alphas[:, None])) ** 2  # (A, n)
        # degrees of freedom, the intercept's included: without it GCV falls to 0 as alpha -> 0 whenever
        # the kernel has rank n - 1 (more features than items), and the least regularisation would always win
        dof = 1 + (d[None, :] / (d[None, :] + alphas[:, None])).sum(axis=1)  # (A,)
        gcv = n * (shrink.astype(np.float32) @ z2).astype(np.float64) / np.maximum(n - dof, 1e-12)[:, None] ** 2  # (A, T)
        j = np.argmin(gcv, axis=0)
        score = gcv[j, np.arange(t)]
        better = score < best
        best[better], best_c[better], best_a[better] = score[better], c, alphas[j[better]]
        decomps.append((d, u))
    pred = np.empty((len(k_test[0]), t))
    for c in np.unique(best_c):
        cols = np.flatnonzero(best_c == c)
        d, u = decomps[c]
        w = candidates[c]
        dual = u @ ((u.T @ yc[:, cols]) / (d[:, None] + best_a[cols][None, :]))
        pred[:, cols] = sum(wj * kj for wj, kj in zip(w, k_test, strict=True)) @ dual + mean[cols]
    return pred, best_a, candidates[best_c]


def _columnwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))


def _permutation_p(pred: np.ndarray, y: np.ndarray, r: np.ndarray, n_perm: int, codes: np.ndarray | None,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-target and family-wise (max statistic) permutation p of r: the predictions' items
    shuffled against the data (whole clusters trading places with clusters of their size when
    ``codes`` are given)."""
    from affectscope.compare.pairing import cluster_members
    from affectscope.compare.rsa import cluster_permutation

    zp = pred - pred.mean(axis=0)
    zp /= np.where((s := np.sqrt((zp * zp).sum(axis=0))) > 0, s, np.inf)
    zy = y - y.mean(axis=0)
    zy /= np.where((s := np.sqrt((zy * zy).sum(axis=0))) > 0, s, np.inf)
    zp, zy = zp.astype(np.float32), zy.astype(np.float32)
    clusters = cluster_members(codes) if codes is not None else None
    r_obs = np.nan_to_num(r, nan=np.inf)  # a target without r is never significant
    exceed = np.zeros(len(r))
    exceed_max = np.zeros(len(r))
    n = len(y)
    for _ in range(n_perm):
        perm = rng.permutation(n) if clusters is None else cluster_permutation(clusters, n, rng)
        null = np.einsum("ij,ij->j", zp[perm], zy)
        exceed += null >= r_obs - 1e-12
        exceed_max += np.max(null) >= r_obs - 1e-12
    return (exceed + 1) / (n_perm + 1), (exceed_max + 1) / (n_perm + 1)


def noise_ceiling(repeats: np.ndarray, *, n_splits: int = 20, random_state: int = 0) -> np.ndarray:
    """The r that a perfect model of the repeatable signal reaches with the mean of the repeats.

    Split-half reliability (the mean over ``n_splits`` random halves of the repeats; every split
    when there are two), stepped up to one repeat and then to all ``R`` by the Spearman-Brown
    formula; the ceiling is its square root (Hsu, Borst & Theunissen 2004). ``(R, n_items, T)`` in,
    ``(T,)`` out; NaN where the reliability is not positive.
    """
    reps = np.asarray(repeats, dtype=np.float64)
    if reps.ndim != 3 or reps.shape[0] < 2:
        raise EncodingError(f"repeats must be (n_repeats >= 2, n_items, n_targets), got shape {reps.shape}")
    n_rep = reps.shape[0]
    rng = np.random.default_rng(random_state)
    splits = [np.arange(n_rep)] if n_rep == 2 else [rng.permutation(n_rep) for _ in range(n_splits)]
    half = []
    for order in splits:
        a, b = order[: n_rep // 2], order[n_rep // 2:]
        half.append(_columnwise_r(reps[a].mean(axis=0), reps[b].mean(axis=0)))
    r_half = np.nanmean(half, axis=0)
    k_half = n_rep / 2  # repeats per half (the halves are equal, or one longer by one)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_one = r_half / (k_half - (k_half - 1) * r_half)  # Spearman-Brown down to one repeat
        r_all = n_rep * r_one / (1 + (n_rep - 1) * r_one)  # and up to the mean of all of them
        return np.where(r_all > 0, np.sqrt(np.clip(r_all, 0, 1)), np.nan)


def compare_layers(layers: Mapping[str, np.ndarray], brain: np.ndarray, **options: Any) -> dict[str, EncodingResult]:
    """One encoding model per layer (the layer-by-layer figure): :func:`fit_encoding` of each alone."""
    return {name: fit_encoding({name: x}, brain, **options) for name, x in layers.items()}
