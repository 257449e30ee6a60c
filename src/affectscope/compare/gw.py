"""Gromov-Wasserstein alignment of two dissimilarity structures, on POT.

Entropic GW (POT's ``entropic_gromov_wasserstein``) depends strongly on epsilon. Like GWTune
(Sasaki et al. 2023) we pick the epsilon whose plan has the lowest GW objective, but instead of
solving each trial from scratch we anneal: solve at the largest epsilon, then use each plan as the
starting point (``G0``) for the next smaller one. Each step then converges in few iterations.
Both RDMs are divided by their mean before alignment, so one epsilon range suits any metric.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from affectscope.compare._pairing import CompareError
from affectscope.compare.rsa import RDM

EpsilonSearch = Literal["anneal", "optuna"]


@dataclass
class GWResult:
    """One GW alignment (POT-style single result object).

    Attributes
    ----------
    plan : numpy.ndarray
        Transport plan, items of ``a`` (rows) x items of ``b`` (columns); sums to 1.
    value : float
        GW objective of the plan (square loss) on the normalised RDMs.
    epsilon : float
        The chosen entropic regularisation.
    trials : list of dict
        Every epsilon tried with its objective and time.
    matching : dict
        Matching rates (see :func:`matching_rates`).
    null : dict
        Shuffled-null matching rates: mean and 95 % interval.
    seconds : float
    """

    plan: np.ndarray
    value: float
    epsilon: float
    trials: list[dict[str, float]]
    matching: dict[str, float] = field(default_factory=dict)
    null: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "epsilon": self.epsilon, "trials": self.trials, "matching": self.matching,
                "null": self.null, "seconds": self.seconds}


def _normalised(r: RDM) -> np.ndarray:
    m = r.matrix()
    mean = m[np.triu_indices(r.n, 1)].mean()
    if mean <= 0:
        raise CompareError("an RDM with all-zero dissimilarities cannot be aligned")
    return m / mean


def gw_objective(c1: np.ndarray, c2: np.ndarray, plan: np.ndarray) -> float:
    """The (unregularised) square-loss GW objective of ``plan``."""
    import ot

    p, q = plan.sum(axis=1), plan.sum(axis=0)
    const_c, h1, h2 = ot.gromov.init_matrix(c1, c2, p, q, loss_fun="square_loss")
    return float(ot.gromov.gwloss(const_c, h1, h2, plan))


def solve_entropic(c1: np.ndarray, c2: np.ndarray, epsilon: float, *, g0: np.ndarray | None = None,
                   max_iter: int = 1000, tol: float = 1e-9) -> np.ndarray:
    """POT's entropic GW with uniform marginals (and an optional starting plan)."""
    import ot

    n, m = len(c1), len(c2)
    p, q = np.full(n, 1 / n), np.full(m, 1 / m)
    plan = ot.gromov.entropic_gromov_wasserstein(
        c1, c2, p, q, loss_fun="square_loss", epsilon=epsilon, G0=g0, max_iter=max_iter, tol=tol, symmetric=True,
    )
    if not np.isfinite(plan).all() or plan.sum() <= 0:
        return np.outer(p, q)  # numerical failure at too small an epsilon: fall back to the independent plan
    return plan


def search_anneal(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_steps: int, max_iter: int) -> list[dict[str, Any]]:
    trials = []
    g0 = None
    for eps in np.geomspace(eps_range[1], eps_range[0], n_steps):
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, float(eps), g0=g0, max_iter=max_iter)
        value = gw_objective(c1, c2, plan)
        trials.append({"epsilon": float(eps), "value": value, "seconds": time.perf_counter() - t, "plan": plan})
        g0 = plan
    return trials


def search_optuna(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_trials: int, max_iter: int, seed: int) -> list[dict[str, Any]]:
    """The GWTune-style baseline: Optuna TPE over log-epsilon, each trial solved from scratch."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        eps = trial.suggest_float("epsilon", eps_range[0], eps_range[1], log=True)
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, eps, max_iter=max_iter)
        value = gw_objective(c1, c2, plan)
        trials.append({"epsilon": eps, "value": value, "seconds": time.perf_counter() - t, "plan": plan})
        return value

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return trials


def matching_rates(plan: np.ndarray, categories: np.ndarray | None = None, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Share of items of ``a`` whose own counterpart in ``b`` (same index) is among the ``k`` columns
    with most transported mass; with ``categories``, the share whose top match has the same category."""
    n = plan.shape[0]
    order = np.argsort(-plan, axis=1, kind="stable")
    own = np.arange(n)[:, None]
    out = {f"item_top{k}": float((order[:, :k] == own).any(axis=1).mean()) for k in ks if k <= plan.shape[1]}
    if categories is not None:
        cats = np.asarray(categories)
        out["category_top1"] = float((cats[order[:, 0]] == cats).mean())
    return out


def _mds(m: np.ndarray, dims: int) -> np.ndarray:
    n = len(m)
    j = np.eye(n) - 1 / n
    b = -0.5 * j @ (m**2) @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:dims]
    return v[:, top] * np.sqrt(np.maximum(w[top], 0))


def procrustes_knn(c1: np.ndarray, c2: np.ndarray, plan: np.ndarray, ks: tuple[int, ...] = (1, 5, 10), dims: int = 10) -> dict[str, float]:
    """k-NN matching after embedding both structures (classical MDS) and rotating ``a`` onto ``b``
    with the orthogonal Procrustes solution weighted by the plan."""
    x, y = _mds(c1, dims), _mds(c2, dims)
    u, _, vt = np.linalg.svd(x.T @ (plan * len(plan)) @ y)
    xa = x @ (u @ vt)
    d = ((xa[:, None, :] - y[None, :, :]) ** 2).sum(axis=2)
    order = np.argsort(d, axis=1, kind="stable")
    own = np.arange(len(x))[:, None]
    return {f"knn_top{k}": float((order[:, :k] == own).any(axis=1).mean()) for k in ks}


def shuffled_rdm(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same dissimilarity values, randomly reassigned to item pairs (structure destroyed)."""
    n = len(c)
    iu = np.triu_indices(n, 1)
    vals = rng.permutation(c[iu])
    out = np.zeros_like(c)
    out[iu] = vals
    return out + out.T


def gw_align(
    a: RDM,
    b: RDM,
    *,
    categories: np.ndarray | None = None,
    eps_range: tuple[float, float] = (1e-3, 1e-1),
    search: EpsilonSearch = "anneal",
    n_steps: int = 8,
    n_trials: int = 20,
    max_iter: int = 1000,
    n_null: int = 0,
    procrustes: bool = True,
    random_state: int = 0,
) -> GWResult:
    """Align two RDMs over the same items with entropic GW and measure how well items match.

    Parameters
    ----------
    a, b : RDM
        Over the same items in the same order (item ``i`` of ``a`` is item ``i`` of ``b``).
    categories : array-like, optional
        A category per item for category-level matching.
    eps_range : (float, float)
        Smallest and largest epsilon (on RDMs normalised to mean 1).
    search : {"anneal", "optuna"}
        Warm-started annealing over ``n_steps`` epsilons, or the GWTune-style Optuna TPE search
        with ``n_trials`` independent solves.
    n_null : int
        Shuffled-null repetitions (each a GW solve at the chosen epsilon on a shuffled ``b``).
    """
    if a.item_ids != b.item_ids:
        raise CompareError("the two RDMs must list the same items in the same order (use RDM.subset)")
    t0 = time.perf_counter()
    c1, c2 = _normalised(a), _normalised(b)
    if search == "anneal":
        trials = search_anneal(c1, c2, eps_range, n_steps, max_iter)
    elif search == "optuna":
        trials = search_optuna(c1, c2, eps_range, n_trials, max_iter, random_state)
    else:
        raise CompareError(f"search must be 'anneal' or 'optuna', not {search!r}")
    best = min(trials, key=lambda t: t["value"])
    result = GWResult(
        plan=best["plan"], value=best["value"], epsilon=best["epsilon"],
        trials=[{k: v for k, v in t.items() if k != "plan"} for t in trials],
    )
    result.matching = matching_rates(result.plan, categories)
    if procrustes:
        result.matching.update(procrustes_knn(c1, c2, result.plan))
    if n_null:
        rng = np.random.default_rng(random_state)
        rows: list[dict[str, float]] = []
        for _ in range(n_null):
            cs = shuffled_rdm(c2, rng)
            plan = solve_entropic(c1, cs, result.epsilon, max_iter=max_iter)
            rows.append(matching_rates(plan, categories))
        result.null = {
            k: {"mean": float(np.mean([r[k] for r in rows])), "lo": float(np.quantile([r[k] for r in rows], 0.025)),
                "hi": float(np.quantile([r[k] for r in rows], 0.975))}
            for k in rows[0]
        }
    result.seconds = time.perf_counter() - t0
    return result
