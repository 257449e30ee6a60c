"""Gromov-Wasserstein alignment of two dissimilarity structures, on POT.

Entropic GW (POT's ``entropic_gromov_wasserstein``) depends strongly on epsilon. Like GWTune
(Sasaki et al. 2023) we pick the epsilon whose plan has the lowest GW objective, but instead of
solving each trial from scratch we anneal: solve at the largest epsilon, then use each plan as the
starting point (``G0``) for the next smaller one, with few Sinkhorn iterations per outer step
(dual potentials carried over); then one converged "polish" solve at the best epsilon. Annealing
also reaches smaller epsilons than cold starts, which underflow. Every plan is projected onto the
exact marginals and scored by the exact GW objective, so an inexact solve cannot look better than
it is. Both RDMs are divided by their mean before alignment, so one epsilon range suits any metric.
"""

from __future__ import annotations

import time
import warnings
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


def project_to_marginals(plan: np.ndarray, p: np.ndarray, q: np.ndarray, *, tol: float = 1e-10, max_iter: int = 10_000) -> np.ndarray:
    """Scale a positive plan's rows and columns (Sinkhorn-Knopp) until its marginals are ``p`` and ``q``.

    An entropic solver stopped early leaves marginals slightly off, and a plan off its marginals can
    score a deceptively low GW objective; every plan is projected before it is scored."""
    t = plan.copy()
    for _ in range(max_iter):
        t *= (p / np.maximum(t.sum(axis=1), 1e-300))[:, None]
        t *= (q / np.maximum(t.sum(axis=0), 1e-300))[None, :]
        if np.abs(t.sum(axis=1) - p).max() <= tol * p.max():
            break
    return t


def gw_objective(c1: np.ndarray, c2: np.ndarray, plan: np.ndarray) -> float:
    """The exact (unregularised) square-loss GW objective of ``plan``:
    sum over i,j,k,l of (c1[i,k] - c2[j,l])^2 plan[i,j] plan[k,l], computed through POT's
    decomposition with the plan's own marginals (so it is exact for any plan)."""
    import ot

    p, q = plan.sum(axis=1), plan.sum(axis=0)
    const_c, h1, h2 = ot.gromov.init_matrix(c1, c2, p, q, loss_fun="square_loss")
    return float(ot.gromov.gwloss(const_c, h1, h2, plan))


def solve_entropic(c1: np.ndarray, c2: np.ndarray, epsilon: float, *, g0: np.ndarray | None = None,
                   max_iter: int = 1000, tol: float = 1e-9, inner_iter: int | None = None) -> np.ndarray | None:
    """POT's entropic GW with uniform marginals (and an optional starting plan).

    Parameters
    ----------
    inner_iter : int, optional
        Cap the Sinkhorn iterations inside each outer iteration and carry the dual potentials
        from one outer iteration to the next (POT's ``warmstart``): much faster, slightly inexact;
        the plan is then projected onto the marginals. ``None`` keeps POT's defaults.

    Returns
    -------
    numpy.ndarray or None
        ``None`` when the solver fails numerically (too small an epsilon for its starting point):
        a failed solve is never passed off as a plan.
    """
    import ot

    n, m = len(c1), len(c2)
    p, q = np.full(n, 1 / n), np.full(m, 1 / m)
    extra: dict[str, Any] = {} if inner_iter is None else {"warmstart": True, "numItermax": inner_iter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.gromov.entropic_gromov_wasserstein(
            c1, c2, p, q, loss_fun="square_loss", epsilon=epsilon, G0=g0, max_iter=max_iter, tol=tol, symmetric=True, **extra,
        )
    if not np.isfinite(plan).all() or abs(plan.sum() - 1) > 1e-3 or (plan <= 0).all():
        return None
    if np.allclose(plan, np.outer(p, q), rtol=0, atol=1e-12 / (n * m)):
        return None
    return project_to_marginals(plan, p, q) if inner_iter is not None else plan


def _trial(c1: np.ndarray, c2: np.ndarray, eps: float, t0: float, plan: np.ndarray | None, **info: Any) -> dict[str, Any]:
    value = gw_objective(c1, c2, plan) if plan is not None else float("inf")
    return {"epsilon": float(eps), "value": value, "seconds": time.perf_counter() - t0, "plan": plan, "failed": plan is None, **info}


#: Sinkhorn iterations per outer GW iteration on the annealed path (dual potentials carried over).
ANNEAL_INNER_ITER = 50


def _descend(c1: np.ndarray, c2: np.ndarray, epsilons: Any, *, max_iter: int, inner_iter: int | None,
             stop_on_failure: bool) -> list[dict[str, Any]]:
    """Solve at each epsilon in turn (largest first), each solve starting from the last good plan."""
    trials: list[dict[str, Any]] = []
    g0 = None
    for eps in epsilons:
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, float(eps), g0=g0, max_iter=max_iter, inner_iter=inner_iter)
        trials.append(_trial(c1, c2, eps, t, plan, stage="anneal"))
        if plan is not None:
            g0 = plan
        elif stop_on_failure:
            break
    return trials


def search_anneal(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_steps: int, max_iter: int,
                  inner_iter: int = ANNEAL_INNER_ITER, polish: bool = True) -> list[dict[str, Any]]:
    """Warm-started annealing: solve from the largest epsilon down, each solve starting from the
    previous plan, with capped inner iterations; stop at the first epsilon that fails (smaller ones
    fail too). Then polish: one fully converged solve at the best epsilon, started from its plan."""
    trials = _descend(c1, c2, np.geomspace(eps_range[1], eps_range[0], n_steps), max_iter=max_iter,
                      inner_iter=inner_iter, stop_on_failure=True)
    ok = [tr for tr in trials if tr["plan"] is not None]
    if polish and ok:
        best = min(ok, key=lambda tr: tr["value"])
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, best["epsilon"], g0=best["plan"], max_iter=max_iter)
        trials.append(_trial(c1, c2, best["epsilon"], t, plan, stage="polish"))
    return trials


def search_optuna(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_trials: int, max_iter: int, seed: int) -> list[dict[str, Any]]:
    """The GWTune-style baseline: Optuna TPE over log-epsilon, each trial solved from scratch with
    POT's defaults and scored by the same exact objective."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        eps = trial.suggest_float("epsilon", eps_range[0], eps_range[1], log=True)
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, eps, max_iter=max_iter)
        trials.append(_trial(c1, c2, eps, t, plan, stage="optuna"))
        return trials[-1]["value"] if plan is not None else 1e12

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return trials


def _own_in_top_k(order: np.ndarray, ks: tuple[int, ...], prefix: str) -> dict[str, float]:
    """Share of rows ``i`` whose own index ``i`` is among the first ``k`` entries of ``order[i]``."""
    own = np.arange(order.shape[0])[:, None]
    return {f"{prefix}{k}": float((order[:, :k] == own).any(axis=1).mean()) for k in ks if k <= order.shape[1]}


def matching_rates(plan: np.ndarray, categories: np.ndarray | None = None, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Share of items of ``a`` whose own counterpart in ``b`` (same index) is among the ``k`` columns
    with most transported mass; with ``categories``, the share whose top match has the same category."""
    order = np.argsort(-plan, axis=1, kind="stable")
    out = _own_in_top_k(order, ks, "item_top")
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
    return _own_in_top_k(np.argsort(d, axis=1, kind="stable"), ks, "knn_top")


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
        Shuffled-null repetitions: ``b``'s dissimilarities reassigned at random, then aligned along
        the same epsilon path down to the chosen epsilon.
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
    ok = [t for t in trials if t["plan"] is not None]
    if not ok:
        raise CompareError(f"every GW solve failed numerically for epsilon in {eps_range}; raise the epsilon range")
    best = min(ok, key=lambda t: t["value"])
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
        # each null solve follows the same annealed path down to the chosen epsilon
        schedule = sorted({t["epsilon"] for t in trials if t["epsilon"] >= result.epsilon}, reverse=True) if search == "anneal" else [result.epsilon]
        inner = ANNEAL_INNER_ITER if search == "anneal" else None
        for _ in range(n_null):
            path = _descend(c1, shuffled_rdm(c2, rng), schedule, max_iter=max_iter, inner_iter=inner, stop_on_failure=False)
            plans = [tr["plan"] for tr in path if tr["plan"] is not None]
            if not plans:
                raise CompareError(f"the shuffled-null GW solve failed at epsilon {result.epsilon:g}; raise the epsilon range")
            rows.append(matching_rates(plans[-1], categories))
        result.null = {
            k: {"mean": float(np.mean([r[k] for r in rows])), "lo": float(np.quantile([r[k] for r in rows], 0.025)),
                "hi": float(np.quantile([r[k] for r in rows], 0.975))}
            for k in rows[0]
        }
    result.seconds = time.perf_counter() - t0
    return result
