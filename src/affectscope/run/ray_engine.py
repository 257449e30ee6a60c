"""Rating on a Ray cluster (``rate(..., engine="ray")``, ``affectscope rate --engine ray``).

Ray actors, not Ray Data: each actor builds the rater once from its registry name and parameters
and keeps its networks loaded, and the driver keeps a bounded number of batches in flight per actor
and takes results back in the order they finish (``ray.wait``), so that it can commit each batch to
the run store at once. The run store stays on the driver, the single source of truth: items it
holds are never sent, every returned batch goes through the same checks and one transaction as in
the local engine, and a driver killed midway loses at most the batches in flight.

Faults: actors are restarted by Ray (``max_restarts``) and a batch whose actor died is run again
(``max_task_retries``); each actor reports its process id with every batch, so a restart is seen
and said. A batch that still fails after the retries becomes an error row per item, never a lost
batch. Stimuli: workers read the paths as given (a shared file system), or, with
``ship_bytes=True``, the driver reads each batch's files and ships the bytes through Ray's object
store as the batch is submitted (memory bounded by the batches in flight; videos too, whole).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affectscope._ray import RAY_INSTALL, EngineUnavailable, connect, require_ray, stream
from affectscope.raters.base import ItemError, Rater, RateResult
from affectscope.stimuli import Stimulus

#: Execution engines of :func:`affectscope.rate`.
ENGINES = ("local", "ray")
__all__ = ["ENGINES", "RAY_INSTALL", "EngineUnavailable", "RayOptions", "RaterWorker", "ray_batches", "require_ray"]


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray.

    Parameters
    ----------
    address : str or None
        An existing cluster (``"ray://head:10001"``, ``"auto"``); None starts a local Ray runtime.
    workers : int
        Actors, each with its own copy of the rater.
    worker_cpus, worker_gpus : float
        Resources each actor asks for.
    ship_bytes : bool
        Send the files' bytes from the driver instead of paths (for files only the driver sees).
    in_flight : int
        Batches queued per actor (2: the next batch is waiting when one finishes).
    max_restarts, max_task_retries : int
        Ray's actor restarts and the retries of a batch whose actor died.
    """

    address: str | None = None
    workers: int = 2
    worker_cpus: float = 1.0
    worker_gpus: float = 0.0
    ship_bytes: bool = False
    in_flight: int = 2
    max_restarts: int = 3
    max_task_retries: int = 3

    def __post_init__(self) -> None:
        if self.workers < 1 or self.in_flight < 1:
            raise ValueError(f"workers and in_flight must be at least 1, got {self.workers} and {self.in_flight}")
        if self.worker_cpus <= 0 or self.worker_gpus < 0:
            raise ValueError(f"worker_cpus must be positive and worker_gpus not negative, got {self.worker_cpus}, {self.worker_gpus}")


class RaterWorker:
    """A Ray actor's body: the rater built once from its registry name (or ``"module:Class"``) and
    parameters, rating batches."""

    def __init__(self, spec: str, params: dict[str, Any], extra_path: str | None) -> None:
        if extra_path and extra_path not in sys.path:
            sys.path.insert(0, extra_path)  # a rater module outside an installed package (same machine or shared FS)
        from affectscope.raters.registry import make_rater

        self.rater = make_rater(spec, **params)
        self.tmp = Path(tempfile.mkdtemp(prefix="affectscope-ray-"))

    def rate(self, batch: Sequence[tuple[Stimulus, bytes | None]]) -> tuple[int, list[RateResult], list[str]]:
        """``(pid, results, fallbacks)`` of one batch, exactly as the local engine rates it
        (``fallbacks``: why the batch failed as a whole and was rated item by item, if it did)."""
        from affectscope.run.rate import _rate_batch

        local: list[Stimulus] = []
        shipped: dict[str, tuple[str, str]] = {}
        for k, (s, data) in enumerate(batch):
            if data is None or s.path is None:
                local.append(s)
                continue
            path = self.tmp / f"{k}{s.path.suffix}"
            path.write_bytes(data)
            shipped[s.item_id] = (str(path), str(s.path))
            local.append(Stimulus(s.item_id, path, s.media, s.metadata))
        fallbacks: list[str] = []
        try:
            results = _rate_batch(self.rater, local, fallbacks)
        finally:
            for tmp, _ in shipped.values():
                Path(tmp).unlink(missing_ok=True)
        for j, res in enumerate(results):  # errors name the file as the driver knows it
            if isinstance(res, ItemError) and res.item_id in shipped:
                tmp, orig = shipped[res.item_id]
                results[j] = ItemError(res.item_id, res.message.replace(tmp, orig))
        return os.getpid(), results, fallbacks

    def pid(self) -> int:
        return os.getpid()


def worker_spec(rater: Rater) -> tuple[str, str | None]:
    """How a worker builds ``rater``: its registry name, or ``"module:Class"`` for a class the
    registry does not hold under that name; and the folder to add to the worker's path for a module
    that is not inside a package (a script's or a test's own rater)."""
    from affectscope.raters.registry import get_rater_class

    cls = type(rater)
    try:
        registered = get_rater_class(rater.name) is cls
    except Exception:  # noqa: BLE001 - not registered under its name
        registered = False
    if registered:
        return rater.name, None
    module = cls.__module__
    if module == "__main__":
        raise EngineUnavailable(f"engine 'ray' builds the rater on each worker by importing it; {cls.__name__} is defined "
                                "in the script being run: move it into a module (or register it)")
    mod_file = getattr(sys.modules.get(module), "__file__", None)
    extra = str(Path(mod_file).parent) if mod_file and "." not in module else None
    return f"{module}:{cls.__qualname__}", extra


def _payload(batch: Sequence[Stimulus], ship: bool) -> list[tuple[Stimulus, bytes | None]]:
    out = []
    for s in batch:
        data = None
        if ship and s.path is not None and s.media != "text":
            try:
                data = s.path.read_bytes()
            except OSError:
                data = None  # the worker reads the path and says why it cannot
        out.append((s, data))
    return out


def ray_batches(rater: Rater, opts: RayOptions, batches: Iterator[Sequence[Stimulus]], notes: list[str],
                fallbacks: list[str] | None = None) -> Iterator[tuple[Sequence[Stimulus], list[RateResult]]]:
    """``(batch, results)`` as batches finish on the actors (any order). ``notes`` collects what the
    run should say (worker restarts, batches lost after every retry); ``fallbacks``, why a batch
    failed as a whole on its worker and was rated item by item there."""
    if rater.family == "llm":  # before a runtime is started for nothing
        raise EngineUnavailable(f"engine 'ray' runs the network raters; {rater.name!r} is bound by its server, not by "
                                "this machine: raise -p concurrency=N instead (docs/scaling.md)")
    spec, extra = worker_spec(rater)
    ray = connect(opts.address)
    actor_cls = ray.remote(num_cpus=opts.worker_cpus, num_gpus=opts.worker_gpus, max_restarts=opts.max_restarts,
                           max_task_retries=opts.max_task_retries)(RaterWorker)
    actors = [actor_cls.remote(spec, rater.get_params(), extra) for _ in range(opts.workers)]
    try:
        pids = dict(enumerate(ray.get([a.pid.remote() for a in actors])))
    except Exception as exc:  # noqa: BLE001 - the rater could not be built on a worker
        for a in actors:
            ray.kill(a)
        raise EngineUnavailable(f"the Ray workers could not build the rater {rater.name!r}: {exc}") from None
    submitted = stream(actors, lambda actor, batch: actor.rate.remote(_payload(batch, opts.ship_bytes)), batches,
                       in_flight=opts.in_flight)
    for k, batch, ref in submitted:
        try:
            pid, results, fell = ray.get(ref)
            if fallbacks is not None:
                fallbacks.extend(fell)
            if pid != pids[k]:
                notes.append(f"Ray restarted worker {k} (pid {pids[k]} -> {pid}); its batches in flight were run again")
                pids[k] = pid
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            notes.append(f"a batch of {len(batch)} items failed on worker {k} after Ray's retries: {first}")
            results = [ItemError(s.item_id, f"the Ray worker failed on this batch after {opts.max_task_retries} retries "
                                            f"({type(exc).__name__}); rerun to retry it") for s in batch]
        yield batch, results
