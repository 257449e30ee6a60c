"""Gromov-Wasserstein alignment of two dissimilarity structures, on POT.

Entropic GW (POT's ``entropic_gromov_wasserstein``) depends strongly on epsilon. Like GWTune
(Sasaki et al. 2023) we pick the epsilon whose plan has the lowest GW objective, but instead of
TPE trials solved from scratch the default search (``"auto"``) runs two cheap procedures and keeps
the better plan:

* **annealing**: solve at the largest epsilon, then use each plan as the starting point (``G0``)
  of the next smaller one, with few Sinkhorn iterations per outer step (dual potentials carried
  over). It reaches basins cold starts miss (on small, clustered sets it finds far lower optima).
* **boundary**: the exact GW objective of an entropic plan falls as epsilon falls (less blur) until
  the solver underflows, and a failing solve fails within its first iterations (well under a
  second). So: cheap probes up an ascending epsilon grid find the boundary; then converged cold
  solves at each epsilon found feasible there (and, under ``"auto"``, at every epsilon of the
  annealed path), run to a relative tolerance instead of POT's absolute 1e-9. A few converged solves
  instead of twenty, and never worse than a cold solve at any epsilon the search visited.

Every plan -- the baseline's too -- is projected onto the exact marginals and scored by the exact
GW objective, so an inexact solve cannot look better than it is. Both RDMs are divided by their mean
before alignment, so one epsilon range suits any metric.

``device``: by default POT solves on numpy (CPU). ``device="cuda"`` (any torch device name) runs
the solves, the projection and the objective through POT's torch backend on that device, in
float64 like the numpy path, so the same epsilons succeed or fail; plans come back as numpy arrays.
"""

from __future__ import annotations

import contextvars

from collections.abc import Callable, Sequence

import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits

from affectscope._progress import Progress
from affectscope.compare.pairing import CompareError
from affectscope.compare.rsa import RDM

EpsilonSearch = Literal["auto", "anneal", "boundary", "optuna"]


@dataclass
class Trial:
    """One GW solve (or feasibility probe) at one epsilon.

    Attributes
    ----------
    epsilon : float
    value : float
        Exact GW objective of the plan; infinite for a failed solve or a probe.
    seconds : float
    failed : bool
        The solve underflowed (for a probe: a cold solve would not survive this epsilon).
    stage : {"anneal", "polish", "probe", "boundary", "optuna"}
        Which step of the search made it.
    plan : numpy.ndarray or None
        The plan, when the solve produced one (probes never keep one).
    """

    epsilon: float
    value: float
    seconds: float
    failed: bool
    stage: str
    plan: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the plan (what :attr:`GWResult.trials` lists)."""
        return {"epsilon": self.epsilon, "value": self.value, "seconds": self.seconds, "failed": self.failed, "stage": self.stage}


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
        Shuffled-null matching rates (the k-NN rates too): mean, 95 % interval, the number of
        shuffles ``n`` and the permutation p-value ``p`` (see :func:`null_summary`).
    null_epsilons : list of float
        The epsilon of each null repetition's plan: the chosen one, or the next one up the search
        grid where a cold solve of the shuffled problem underflowed there.
    null_workers : int
        Threads the null repetitions ran on.
    seconds : float
    """

    plan: np.ndarray
    value: float
    epsilon: float
    trials: list[dict[str, float]]
    matching: dict[str, float] = field(default_factory=dict)
    null: dict[str, dict[str, float]] = field(default_factory=dict)
    null_epsilons: list[float] = field(default_factory=list)
    null_workers: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "epsilon": self.epsilon, "trials": self.trials, "matching": self.matching,
                "null": self.null, "null_epsilons": self.null_epsilons, "null_workers": self.null_workers,
                "seconds": self.seconds}


def resolve_device(device: Any) -> Any:
    """``None`` for the numpy path (``None`` or the name ``"cpu"``), else the ``torch.device`` to
    solve on. A ``torch.device`` object always takes the torch backend, ``torch.device("cpu")`` too.

    Raises
    ------
    CompareError
        For a name torch does not know, or a CUDA device torch cannot see.
    """
    if device is None or (isinstance(device, str) and device == "cpu"):
        return None
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise CompareError(f"device={device!r} needs torch; use device='cpu'") from exc
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise CompareError(f"device must be 'cpu', 'cuda' or another torch device name such as 'cuda:0', got {device!r}") from exc
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise CompareError(f"device={device!r}: torch sees no such CUDA GPU here; use device='cpu'")
    return dev


def _on(dev: Any, *arrays: Any) -> list[Any]:
    import torch

    return [None if a is None else torch.as_tensor(a, dtype=torch.float64, device=dev) for a in arrays]


def _normalised(r: RDM) -> np.ndarray:
    m = r.matrix()
    mean = m[np.triu_indices(r.n, 1)].mean()
    if mean <= 0:
        raise CompareError("an RDM with all-zero dissimilarities cannot be aligned")
    return m / mean


def project_to_marginals(plan: np.ndarray, p: np.ndarray, q: np.ndarray, *, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Make a nonnegative plan's marginals exactly ``p`` and ``q``.

    Rows and columns are first scaled alternately (Sinkhorn-Knopp) until the row sums are within
    ``tol`` (relative) of ``p``; whatever error is left -- scaling converges slowly, or never, when
    entries have underflowed to zero -- is then removed by the rounding step of Altschuler, Weed &
    Rigollet (2017, Algorithm 2): scale down overfull rows and columns, then add the rank-one
    correction ``err_p err_q^T / |err_p|_1``. The result is feasible to floating-point precision.

    An entropic solver stopped early, or one whose Sinkhorn loop hit its iteration cap, leaves the
    marginals off, and a plan off its marginals can score a deceptively low GW objective: every plan
    is projected before it is scored, the baseline's included.

    ``plan``, ``p`` and ``q`` are numpy arrays, or torch tensors on one device (the result is then a
    tensor there)."""
    import ot

    t = ot.backend.get_backend(plan, p, q).copy(plan) * 1.0  # a float copy on the plan's own backend
    for _ in range(max_iter):
        t *= (p / t.sum(axis=1).clip(min=1e-300))[:, None]
        t *= (q / t.sum(axis=0).clip(min=1e-300))[None, :]
        if abs(t.sum(axis=1) - p).max() <= tol * p.max():
            break
    t *= (p / t.sum(axis=1).clip(min=1e-300)).clip(max=1.0)[:, None]
    t *= (q / t.sum(axis=0).clip(min=1e-300)).clip(max=1.0)[None, :]
    err_p, err_q = p - t.sum(axis=1), q - t.sum(axis=0)
    if err_p.sum() > 0:
        t += err_p[:, None] * err_q[None, :] / err_p.sum()
    return t


def gw_objective(c1: np.ndarray, c2: np.ndarray, plan: np.ndarray, *, device: str | None = None) -> float:
    """The exact (unregularised) square-loss GW objective of ``plan``:
    sum over i,j,k,l of (c1[i,k] - c2[j,l])^2 plan[i,j] plan[k,l], computed through POT's
    decomposition with the plan's own marginals (so it is exact for any plan); on ``device``
    when given (see :func:`resolve_device`)."""
    import ot

    dev = resolve_device(device)
    if dev is not None:
        c1, c2, plan = _on(dev, c1, c2, plan)
    p, q = plan.sum(axis=1), plan.sum(axis=0)
    const_c, h1, h2 = ot.gromov.init_matrix(c1, c2, p, q, loss_fun="square_loss")
    return float(ot.gromov.gwloss(const_c, h1, h2, plan))


def solve_entropic(c1: np.ndarray, c2: np.ndarray, epsilon: float, *, g0: np.ndarray | None = None,
                   max_iter: int = 1000, tol: float = 1e-9, inner_iter: int | None = None,
                   device: str | None = None) -> np.ndarray | None:
    """POT's entropic GW with uniform marginals (and an optional starting plan).

    Parameters
    ----------
    inner_iter : int, optional
        Cap the Sinkhorn iterations inside each outer iteration and carry the dual potentials
        from one outer iteration to the next (POT's ``warmstart``): much faster, slightly inexact;
        ``None`` keeps POT's defaults. Either way the plan is projected onto the exact marginals
        (:func:`project_to_marginals`): a converged POT solve can still miss them by ~1 %.
    device : str, optional
        Solve on this torch device (e.g. ``"cuda"``) through POT's torch backend, in float64;
        ``None`` or ``"cpu"``: numpy.

    Returns
    -------
    numpy.ndarray or None
        ``None`` when the solver fails numerically (too small an epsilon for its starting point):
        a failed solve is never passed off as a plan.
    """
    import ot

    n, m = len(c1), len(c2)
    p, q = np.full(n, 1 / n), np.full(m, 1 / m)
    dev = resolve_device(device)
    if dev is not None:
        c1, c2, p, q, g0 = _on(dev, c1, c2, p, q, g0)
    extra: dict[str, Any] = {} if inner_iter is None else {"warmstart": True, "numItermax": inner_iter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.gromov.entropic_gromov_wasserstein(
            c1, c2, p, q, loss_fun="square_loss", epsilon=epsilon, G0=g0, max_iter=max_iter, tol=tol, symmetric=True, **extra,
        )
    # the same failure tests on either backend; a NaN or infinite entry makes the sum non-finite
    total = float(plan.sum())
    if not math.isfinite(total) or abs(total - 1) > 1e-3 or bool((plan <= 0).all()):
        return None
    if float(abs(plan - p[:, None] * q[None, :]).max()) <= 1e-12 / (n * m):
        return None
    plan = project_to_marginals(plan, p, q)
    return plan if dev is None else plan.cpu().numpy()


@dataclass
class _SearchCount:
    """The epsilon search's progress and the best objective it has reached."""

    bar: Progress
    best: float = float("inf")


#: Set by :func:`gw_align` while its search runs (the shuffled null's solves, in other threads or
#: after it, are not counted here).
_SEARCH: contextvars.ContextVar[_SearchCount | None] = contextvars.ContextVar("gw_search", default=None)


def _counted(trial: Trial) -> Trial:
    """Count a solve or probe of the epsilon search on its progress; the lines name the best
    objective so far (a failed probe is the search working, not a failure)."""
    count = _SEARCH.get()
    if count is not None:
        if not trial.failed and np.isfinite(trial.value) and trial.value < count.best:
            count.best = trial.value
            count.bar.note = f"best objective {trial.value:.4g} at epsilon {trial.epsilon:.3g}"
        count.bar.update(1, failed=int(trial.failed and trial.stage != "probe"))
    return trial


def _trial(c1: np.ndarray, c2: np.ndarray, eps: float, t0: float, plan: np.ndarray | None, stage: str,
           device: str | None = None) -> Trial:
    value = gw_objective(c1, c2, plan, device=device) if plan is not None else float("inf")
    return _counted(Trial(epsilon=float(eps), value=value, seconds=time.perf_counter() - t0, failed=plan is None, stage=stage,
                          plan=plan))


#: Sinkhorn iterations per outer GW iteration on the annealed path (dual potentials carried over).
ANNEAL_INNER_ITER = 50


def _descend(c1: np.ndarray, c2: np.ndarray, epsilons: Any, *, max_iter: int, inner_iter: int | None,
             stop_on_failure: bool, tol: float = 1e-9, device: str | None = None) -> list[Trial]:
    """Solve at each epsilon in turn (largest first), each solve starting from the last good plan."""
    trials: list[Trial] = []
    g0 = None
    for eps in epsilons:
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, float(eps), g0=g0, max_iter=max_iter, inner_iter=inner_iter, tol=tol, device=device)
        trials.append(_trial(c1, c2, eps, t, plan, "anneal", device))
        if plan is not None:
            g0 = plan
        elif stop_on_failure:
            break
    return trials


def search_anneal(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_steps: int, max_iter: int,
                  inner_iter: int = ANNEAL_INNER_ITER, polish: bool = True, device: str | None = None) -> list[Trial]:
    """Warm-started annealing: solve from the largest epsilon down, each solve starting from the
    previous plan, with capped inner iterations; stop at the first epsilon that fails (smaller ones
    fail too). Then polish: one fully converged solve at the best epsilon, started from its plan."""
    trials = _descend(c1, c2, np.geomspace(eps_range[1], eps_range[0], n_steps), max_iter=max_iter,
                      inner_iter=inner_iter, stop_on_failure=True, device=device)
    ok = [tr for tr in trials if tr.plan is not None]
    if polish and ok:
        best = min(ok, key=lambda tr: tr.value)
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, best.epsilon, g0=best.plan, max_iter=max_iter, device=device)
        trials.append(_trial(c1, c2, best.epsilon, t, plan, "polish", device))
    return trials


#: Outer-loop tolerance of the boundary solve, relative to the Frobenius norm of a one-to-one plan
#: (1/sqrt(n)): POT's change test ||T - T_prev|| < tol is absolute. At n = 500 this is ~9e-7; it
#: stops after ~80 outer iterations where POT's default 1e-9 takes ~130, with the same objective.
BOUNDARY_REL_TOL = 2e-5


def _boundary_tol(n: int) -> float:
    """The absolute outer-loop tolerance POT gets for a boundary solve over ``n`` items."""
    return BOUNDARY_REL_TOL / float(np.sqrt(n))


#: Outer iterations of a feasibility probe: an epsilon too small for a cold start underflows in the
#: first Sinkhorn pass, so a probe that survives this many iterations marks a feasible epsilon.
PROBE_ITER = 3


def _probe(c1: np.ndarray, c2: np.ndarray, eps: float, device: str | None = None) -> Trial:
    t = time.perf_counter()
    ok = solve_entropic(c1, c2, eps, max_iter=PROBE_ITER, device=device) is not None
    # a probe is not a candidate plan: it only says whether a cold solve at eps survives
    return _counted(Trial(epsilon=float(eps), value=float("inf"), seconds=time.perf_counter() - t, failed=not ok, stage="probe"))


def search_boundary(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_grid: int, max_iter: int,
                    n_bisect: int = 3, device: str | None = None, also: Sequence[float] = ()) -> list[Trial]:
    """Find the smallest epsilons a cold solve survives, then solve at each of them, to convergence.

    Smaller epsilon means a sharper plan and, until the solver underflows, a lower exact objective;
    a solve that underflows fails in its first iterations. So: cheap probes (``PROBE_ITER`` outer
    iterations) up an ascending geometric grid until one survives, ``n_bisect`` probes bisecting
    (in log epsilon) the step below it, then one converged cold solve at *every* surviving epsilon
    of that boundary step and at each epsilon in ``also`` (under ``"auto"``, every epsilon the
    annealed path solved). Near the boundary the objective is not monotone in epsilon (the smallest surviving
    epsilon is not always the best), so the search returns a plan no worse than a cold solve at
    any epsilon it found feasible. Should every one of those solves fail later on, it moves up the
    grid, one cold solve at a time, until one succeeds."""
    trials: list[Trial] = []
    grid = np.geomspace(eps_range[0], eps_range[1], n_grid)
    tol = _boundary_tol(len(c1))
    k = None
    for i, eps in enumerate(grid):
        trials.append(_probe(c1, c2, eps, device))
        if not trials[-1].failed:
            k = i
            break
    if k is None:
        return trials
    feasible = [float(grid[k])]
    lo, hi = (np.log(grid[k - 1]), np.log(grid[k])) if k > 0 else (None, None)
    for _ in range(n_bisect if lo is not None else 0):
        mid = (lo + hi) / 2
        trials.append(_probe(c1, c2, float(np.exp(mid)), device))
        if trials[-1].failed:
            lo = mid
        else:
            hi = mid
            feasible.insert(0, float(np.exp(mid)))

    def cold(eps: float) -> bool:
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, eps, max_iter=max_iter, tol=tol, device=device)
        trials.append(_trial(c1, c2, eps, t, plan, "boundary", device))
        return plan is not None

    extra = [float(e) for e in also if not any(math.isclose(e, f, rel_tol=1e-9) for f in feasible)]
    solved = [cold(eps) for eps in sorted(feasible + extra)]
    if not any(solved):
        for eps in grid[k + 1:]:
            if cold(float(eps)):
                break
    return trials


def search_optuna(c1: np.ndarray, c2: np.ndarray, eps_range: tuple[float, float], n_trials: int, max_iter: int, seed: int,
                  device: str | None = None) -> list[Trial]:
    """The GWTune-style baseline: Optuna TPE over log-epsilon, each trial solved from scratch with
    POT's defaults and scored by the same exact objective."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials: list[Trial] = []

    def objective(trial: Any) -> float:
        eps = trial.suggest_float("epsilon", eps_range[0], eps_range[1], log=True)
        t = time.perf_counter()
        plan = solve_entropic(c1, c2, eps, max_iter=max_iter, device=device)
        trials.append(_trial(c1, c2, eps, t, plan, "optuna", device))
        return trials[-1].value if plan is not None else 1e12

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return trials


def _own_in_top_k(order: np.ndarray, ks: tuple[int, ...], prefix: str) -> dict[str, float]:
    """Share of rows ``i`` whose own index ``i`` is among the first ``k`` entries of ``order[i]``."""
    own = np.arange(order.shape[0])[:, None]
    return {f"{prefix}{k}": float((order[:, :k] == own).any(axis=1).mean()) for k in ks if k <= order.shape[1]}


#: Joins tied top categories: ``"awe|joy"`` (see :func:`affectscope.compare.structure.top_category`).
#: Category matching counts a match when the two items' top sets intersect, in the null too.
TIE = "|"


def matching_rates(plan: np.ndarray, categories: np.ndarray | None = None, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Share of items of ``a`` whose own counterpart in ``b`` (same index) is among the ``k`` columns
    with most transported mass; with ``categories``, the share whose top match has the same category
    (categories holding ``|`` are sets of tied top categories: a match when the two sets intersect)."""
    order = np.argsort(-plan, axis=1, kind="stable")
    out = _own_in_top_k(order, ks, "item_top")
    if categories is not None:
        cats = np.asarray(categories)
        if any(TIE in str(c) for c in cats):  # tied top categories ("awe|joy"): a match when the sets intersect
            sets = [frozenset(str(c).split(TIE)) for c in cats]
            out["category_top1"] = float(np.mean([bool(sets[j] & sets[i]) for i, j in enumerate(order[:, 0])]))
        else:
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


def null_summary(observed: float, null: Sequence[float]) -> dict[str, float]:
    """The shuffled null of one matching rate: mean, 2.5 and 97.5 percentiles, the number of
    shuffles ``n`` and the one-sided permutation p-value with the +1 correction,
    ``(1 + #{null >= observed}) / (n + 1)``: never 0, and at least ``1 / (n + 1)``, so p < 0.05
    needs 20 shuffles or more."""
    v = np.asarray(null, float)
    return {"mean": float(v.mean()), "lo": float(np.quantile(v, 0.025)), "hi": float(np.quantile(v, 0.975)),
            "p": float((1 + np.sum(v >= observed - 1e-12)) / (len(v) + 1)), "n": len(v)}


def null_workers(n_jobs: int | None, n_null: int, device: str | None) -> int:
    """Threads for ``n_null`` shuffled-null repetitions: ``n_jobs``, or one per usable CPU, at most
    ``n_null``; one on a torch device (the GPU is already parallel)."""
    if device not in (None, "cpu"):
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n_null, n_jobs if n_jobs is not None else cpus))


def shuffled_rdm(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same dissimilarity values, randomly reassigned to item pairs (structure destroyed)."""
    n = len(c)
    iu = np.triu_indices(n, 1)
    vals = rng.permutation(c[iu])
    out = np.zeros_like(c)
    out[iu] = vals
    return out + out.T


@dataclass(frozen=True)
class SearchSettings:
    """What every epsilon search reads (the parameters of :func:`gw_align` of the same names)."""

    eps_range: tuple[float, float]
    n_steps: int
    n_grid: int
    n_trials: int
    max_iter: int
    random_state: int
    device: str | None


def _search_auto(c1: np.ndarray, c2: np.ndarray, s: SearchSettings) -> list[Trial]:
    path = search_anneal(c1, c2, s.eps_range, s.n_steps, s.max_iter, polish=False, device=s.device)
    # every epsilon of the path gets a cold solve too: a warm-started plan can be worse than a cold
    # one at the same epsilon, and the objective can keep falling above the boundary step
    also = [t.epsilon for t in path if t.plan is not None]
    return path + search_boundary(c1, c2, s.eps_range, s.n_grid, s.max_iter, device=s.device, also=also)


#: The epsilon searches of :func:`gw_align`, by name (see its ``search`` parameter).
SEARCHES: dict[str, Callable[[np.ndarray, np.ndarray, SearchSettings], list[Trial]]] = {
    "auto": _search_auto,
    "anneal": lambda c1, c2, s: search_anneal(c1, c2, s.eps_range, s.n_steps, s.max_iter, device=s.device),
    "boundary": lambda c1, c2, s: search_boundary(c1, c2, s.eps_range, s.n_grid, s.max_iter, device=s.device),
    "optuna": lambda c1, c2, s: search_optuna(c1, c2, s.eps_range, s.n_trials, s.max_iter, s.random_state, device=s.device),
}


@dataclass(frozen=True)
class NullSpec:
    """How a shuffled-null repetition repeats the search that produced the chosen plan."""

    schedule: list[float]
    up: list[float]
    annealed: bool
    inner: int | None
    tol: float
    max_iter: int
    device: str | None
    categories: np.ndarray | None
    procrustes: bool
    epsilon: float
    eps_high: float


def null_repetition(c1: np.ndarray, c2: np.ndarray, spec: NullSpec, seed: np.random.SeedSequence) -> tuple[dict[str, float], float]:
    """One shuffled-null repetition: ``c2``'s dissimilarities reassigned by ``seed``, aligned as
    ``spec`` says; its matching rates and the epsilon it was solved at."""
    shuffled = shuffled_rdm(c2, np.random.default_rng(seed))
    done: list[Any] = []
    for sched in [spec.schedule] + ([[e] for e in spec.up] if not spec.annealed else []):
        path = _descend(c1, shuffled, sched, max_iter=spec.max_iter, inner_iter=spec.inner, stop_on_failure=False, tol=spec.tol,
                        device=spec.device)
        done = [tr for tr in path if tr.plan is not None]
        if done:
            break
    if not done:
        raise CompareError(f"the shuffled-null GW solve failed at every epsilon from {spec.epsilon:g} to {spec.eps_high:g}; "
                           "raise the epsilon range")
    rates = matching_rates(done[-1].plan, spec.categories)
    if spec.procrustes:
        rates.update(procrustes_knn(c1, shuffled, done[-1].plan))
    return rates, float(done[-1].epsilon)


def _null_on_ray(c1: np.ndarray, c2: np.ndarray, seeds: list[np.random.SeedSequence], spec: NullSpec, bar: Any
                 ) -> list[tuple[dict[str, float], float]]:
    """The null's repetitions as Ray tasks (the matrices shipped once), in seed order."""
    from affectscope._ray import map_tasks

    return map_tasks(null_repetition, (c1, c2, spec), seeds, on_done=lambda: bar.update(1))


def gw_align(
    a: RDM,
    b: RDM,
    *,
    categories: np.ndarray | None = None,
    eps_range: tuple[float, float] = (1e-3, 1e-1),
    search: EpsilonSearch = "auto",
    n_steps: int = 8,
    n_grid: int = 16,
    n_trials: int = 20,
    max_iter: int = 1000,
    n_null: int = 0,
    procrustes: bool = True,
    random_state: int = 0,
    device: str | None = None,
    n_jobs: int | None = 1,
    engine: str = "local",
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
    search : {"auto", "anneal", "boundary", "optuna"}
        ``"auto"``: the annealed path over ``n_steps`` epsilons (no polish) and the boundary search
        over an ``n_grid``-point grid, the better plan wins. ``"anneal"``: the path, then a
        converged polish at its best epsilon. ``"boundary"``: the boundary search alone.
        ``"optuna"``: the GWTune-style baseline, Optuna TPE with ``n_trials`` independent solves.
    n_null : int
        Shuffled-null repetitions: ``b``'s dissimilarities reassigned at random, then aligned by the
        procedure that produced the chosen plan (the annealed path down to the chosen epsilon, or
        one cold solve at it).
    device : str, optional
        Run the POT solves on this torch device, e.g. ``"cuda"`` (float64, same results up to
        floating-point order); ``None`` or ``"cpu"``: numpy. An unknown or absent device raises
        :class:`CompareError` before any work.
    n_jobs : int, default 1
        Threads for the shuffled-null repetitions (each repetition draws its own seed from
        ``random_state``, so the null is the same for any ``n_jobs``). ``None``: one per CPU this
        process may use, at most ``n_null``. On a torch device the repetitions run one at a time.
        Threads pay on large problems and can lose on small ones (POT's numpy loop holds the GIL
        between BLAS calls): on 2 cores, 1.75x faster for cold solves at n = 300, but 214 s vs
        169 s for 4 repetitions of a 150-video Cowen & Keltner null.
    engine : {"local", "ray"}, default "local"
        ``"ray"``: each null repetition is a Ray task (on the runtime or cluster this process is
        connected to, else a local one); the same seeds, so the same null as the local engine.
    """
    if engine not in ("local", "ray"):
        raise CompareError(f"engine must be 'local' or 'ray', not {engine!r}")
    if a.item_ids != b.item_ids:
        raise CompareError("the two RDMs must list the same items in the same order (use RDM.subset)")
    if n_null < 0:
        raise CompareError(f"n_null must be >= 0 (0 skips the shuffled null), not {n_null}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise CompareError(f"n_jobs must be a whole number >= 1, or None for one thread per CPU; not {n_jobs!r}")
    resolve_device(device)
    t0 = time.perf_counter()
    c1, c2 = _normalised(a), _normalised(b)
    strategy = SEARCHES.get(search)
    if strategy is None:
        raise CompareError(f"search must be one of {tuple(SEARCHES)}, not {search!r}")
    # solves and probes counted as they finish: their number depends on where the solver underflows
    with Progress(None, desc=f"GW epsilon search ({search})", unit="solve") as bar:
        token = _SEARCH.set(_SearchCount(bar))
        try:
            trials = strategy(c1, c2, SearchSettings(eps_range, n_steps, n_grid, n_trials, max_iter, random_state, device))
        finally:
            _SEARCH.reset(token)
    ok = [t for t in trials if t.plan is not None]
    if not ok:
        raise CompareError(f"every GW solve failed numerically for epsilon in {eps_range}; raise the epsilon range")
    best = min(ok, key=lambda t: t.value)
    result = GWResult(plan=best.plan, value=best.value, epsilon=best.epsilon, trials=[t.to_dict() for t in trials])
    result.matching = matching_rates(result.plan, categories)
    if procrustes:
        result.matching.update(procrustes_knn(c1, c2, result.plan))
    if n_null:
        # each null solve repeats the procedure that produced the chosen plan, down to its epsilon
        annealed = best.stage in ("anneal", "polish")
        schedule = sorted({t.epsilon for t in trials if t.stage == "anneal" and t.epsilon >= result.epsilon},
                          reverse=True) if annealed else [result.epsilon]
        inner = ANNEAL_INNER_ITER if annealed else None
        tol = _boundary_tol(len(c1)) if best.stage == "boundary" else 1e-9
        # a cold solve that underflows at the chosen epsilon on a shuffled problem moves up the search
        # grid, as the boundary search itself does; the epsilons used are recorded
        up = [float(e) for e in np.geomspace(eps_range[0], eps_range[1], n_grid) if e > result.epsilon * (1 + 1e-9)]

        spec = NullSpec(schedule, up, annealed, inner, tol, max_iter, device, categories, procrustes, result.epsilon, eps_range[1])

        def repetition(seed: np.random.SeedSequence) -> tuple[dict[str, float], float]:
            return null_repetition(c1, c2, spec, seed)

        # one seed per repetition, spawned from random_state: the same null whatever n_jobs is
        seeds = np.random.SeedSequence(random_state).spawn(n_null)
        workers = null_workers(n_jobs, n_null, device)
        reps = []
        with Progress(n_null, desc="GW shuffled null", unit="shuffle") as bar:
            if engine == "ray":
                reps = _null_on_ray(c1, c2, seeds, spec, bar)
                workers = 0
            elif workers == 1:
                for sd in seeds:
                    reps.append(repetition(sd))
                    bar.update(1)
            else:
                # threads, each with single-threaded BLAS: POT's numpy solves release the GIL in BLAS and
                # numpy, and one BLAS thread per solve beats BLAS's own threading of a single solve
                with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
                    for rep in pool.map(repetition, seeds):
                        reps.append(rep)
                        bar.update(1)
        rows = [r for r, _ in reps]
        result.null_epsilons = [e for _, e in reps]
        result.null_workers = workers
        result.null = {k: null_summary(result.matching[k], [r[k] for r in rows]) for k in rows[0]}
    result.seconds = time.perf_counter() - t0
    return result
