"""Running a rater over a stimulus set: batched, each finished batch persisted in one transaction, resumable, with progress."""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from affectscope._files import file_problem
from affectscope._install import install_hint
from affectscope._progress import Progress
from affectscope.raters.base import Flagged, ItemError, Rater, RateResult, RaterUnavailable
from affectscope.raters.registry import make_rater
from affectscope.ratings import ColumnSpec, Ratings
from affectscope.run.store import RunStore, StoredItem
from affectscope.stimuli import Stimulus, StimulusSet

if TYPE_CHECKING:
    import pandas as pd

    from affectscope.run.ray_engine import RayOptions


@dataclass
class RunResult:
    """What a run produced.

    Attributes
    ----------
    ratings : Ratings
        One row per stimulus, failures included (``error`` column).
    n_rated : int
        Items computed in this run.
    n_resumed : int
        Items taken from the store without recomputation.
    n_failed : int
        Items whose row holds an error.
    seconds : float
        Wall time of this run.
    store_path : str
    n_warned : int
        Rated items whose row holds a warning (``warning`` column).
    n_incomplete : int
        Rated items marked incomplete (a rerun computes them again), e.g. LLM items some of whose
        participants failed.
    engine : {"local", "ray"}
    notes : list of str
        What the engine had to do that the user should know (Ray restarting a worker, a batch that
        failed after every retry).
    """

    ratings: Ratings
    n_rated: int
    n_resumed: int
    n_failed: int
    seconds: float
    store_path: str
    n_warned: int = 0
    n_incomplete: int = 0
    engine: str = "local"
    notes: list[str] = field(default_factory=list)


class OutputCheck:
    """Why a rater's output for one item breaks its declared outputs (``check(values)``), or
    ``None`` if it is fine; prepared once per run for its columns (a run checks every item)."""

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        self.names = [c.name for c in columns]
        self._name_set = set(self.names)
        self._numeric = [(c.name, c.scale) for c in columns if c.kind != "text"]

    def __call__(self, values: dict[str, Any]) -> str | None:
        if not isinstance(values, dict):
            return f"rater returned {type(values).__name__} for an item, not a dict of its declared columns"
        if values.keys() != self._name_set:
            missing = [n for n in self.names if n not in values]
            extra = [k for k in values if k not in self._name_set]
            return f"rater output does not match its declared columns (missing {missing}, unexpected {extra})"
        for name, scale in self._numeric:
            v = values[name]
            if type(v) is float:
                f = v
            else:
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    return f"rater returned a non-numeric value {v!r} for {name!r}"
            if f != f:  # NaN: a missing value
                continue
            if math.isinf(f) or (scale is not None and scale.outside(f)):
                return f"rater returned {f:g} for {name!r}, outside its declared scale {scale.label if scale else ''}"
        return None


def _batches(items: Sequence[Stimulus], size: int) -> Iterable[Sequence[Stimulus]]:
    """Batches of up to ``size`` items, in order; a video is a batch of its own (it is many
    frames of work already), so each finished video is saved at once and progress moves per video."""
    batch: list[Stimulus] = []
    for s in items:
        if s.media == "video":
            if batch:
                yield batch
                batch = []
            yield [s]
            continue
        batch.append(s)
        if len(batch) >= max(1, size):
            yield batch
            batch = []
    if batch:
        yield batch


def rate(
    stimuli: StimulusSet,
    rater: Rater,
    *,
    store: str | os.PathLike[str] = ":memory:",
    fresh: bool = False,
    retry_errors: bool = True,
    progress: bool | None = None,
    engine: str = "local",
    ray_options: "RayOptions | None" = None,
) -> RunResult:
    """Rate every stimulus, persisting each finished batch immediately (one transaction per batch).

    Parameters
    ----------
    stimuli : StimulusSet
    rater : Rater
    store : path-like, default ":memory:"
        SQLite run store. With a file, a rerun resumes: finished items whose file is unchanged
        are not recomputed.
    fresh : bool, default False
        Discard the store's content first.
    retry_errors : bool, default True
        Recompute items that failed in an earlier run.
    progress : bool or None
        ``False``: silent. Otherwise a bar on a terminal, and where stderr is not one (a log file,
        CI, a cluster job) a line every 30 s (``$AFFECTSCOPE_PROGRESS_SECONDS``): done / total,
        rate, ETA, failures.
    engine : {"local", "ray"}, default "local"
        ``"ray"``: batches run on Ray actors (a local Ray runtime, or the cluster of
        ``ray_options.address``), each holding its own copy of the rater; this process keeps the
        run store and commits each batch as it comes back (:mod:`affectscope.run.ray_engine`).
    ray_options : RayOptions, optional
        Workers, their resources, the cluster address, shipping bytes (``engine="ray"``).

    Returns
    -------
    RunResult
    """
    from affectscope._checks import check_option
    from affectscope.run.ray_engine import ENGINES, RayOptions, ray_batches, require_ray

    t0 = time.perf_counter()
    check_option("engine", engine, ENGINES)
    if engine == "ray":
        require_ray()  # before anything is opened: the install command, exit 2
    elif ray_options is not None:
        raise ValueError("ray_options are for engine='ray'")
    check_requirements(rater, stimuli)
    columns = rater.outputs()
    with RunStore(store, rater=rater.info(), fingerprint=rater.fingerprint(), columns=columns, fresh=fresh) as db:
        done = db.finished(include_errors=not retry_errors)
        signatures: dict[str, str] = {}

        def signature(stim: Stimulus) -> str:  # each file hashed (stat'ed) once, when first needed
            sig = signatures.get(stim.item_id)
            if sig is None:
                sig = signatures[stim.item_id] = stim.signature()
            return sig

        # only stored items are hashed up front (to tell whether their file changed); the others
        # are hashed batch by batch below, while the batch before runs through the network
        pending = [s for s in stimuli if s.item_id not in done or done[s.item_id] != signature(s)]
        n_resumed = len(stimuli) - len(pending)
        bar = Progress(len(stimuli), initial=n_resumed, unit="item", desc=f"rating ({rater.name})", enabled=progress)

        def readable() -> Iterator[Stimulus]:
            """The pending items, each hashed before a rater reads it (a file edited while its batch
            runs keeps the old content's signature, so the next run rates it again). Anything that
            is not a regular file (a FIFO, a device, a broken or looping link) is an error row at
            once: it is never handed to a rater, whose reading could block for ever."""
            for stim in pending:
                sig = signature(stim)
                # a file hashed is a regular file (only those are read); anything else is asked why
                problem = (file_problem(stim.path) if stim.path is not None and stim.media != "text"
                           and not sig.startswith("sha256:") else None)
                if problem is None:
                    yield stim
                    continue
                db.put(stim.item_id, str(stim.path), sig, None, f"{problem[0]}. Fix: {problem[1]}", 0.0)
                bar.update(1, failed=1)

        check = OutputCheck(columns)
        notes: list[str] = []
        fallbacks: list[str] = []  # why each batch that failed as a whole did
        try:
            if engine == "ray":
                runs = ray_batches(rater, ray_options or RayOptions(), iter(_batches(readable(), rater.batch_size)), notes, fallbacks)
            else:
                runs = _local_runs(rater, _batches(readable(), rater.batch_size), fallbacks)
            t_batch = time.perf_counter()
            for batch, results in runs:
                per_item = (time.perf_counter() - t_batch) / len(batch)
                t_batch = time.perf_counter()
                finished = []
                for stim, res in zip(batch, results):
                    path = str(stim.path) if stim.path is not None else None
                    sig = signatures[stim.item_id]
                    if isinstance(res, ItemError):
                        finished.append(StoredItem(stim.item_id, path, sig, None, res.message, per_item))
                    elif problem := check(res):
                        finished.append(StoredItem(stim.item_id, path, sig, None, problem, per_item))
                    elif isinstance(res, Flagged):
                        finished.append(StoredItem(stim.item_id, path, sig, dict(res), None, per_item, res.warning, res.retry))
                    else:
                        finished.append(StoredItem(stim.item_id, path, sig, res, None, per_item))
                db.put_many(finished)  # one transaction per batch: a crash keeps all of it or none
                bar.update(len(finished), failed=sum(f.error is not None for f in finished))
        finally:
            bar.close()
            if fallbacks:  # said, not only counted: each of their items was rated (or failed) alone
                many = len(fallbacks) > 1
                notes.append(f"{len(fallbacks)} batch{'es' if many else ''} failed as a whole and {'were' if many else 'was'} "
                             f"rated item by item (first: {fallbacks[0]})")
        ratings = db.to_ratings(stimuli.item_ids)
        incomplete = len(db.incomplete() & set(stimuli.item_ids))
        return RunResult(
            ratings=ratings,
            n_rated=len(pending),
            n_resumed=n_resumed,
            n_failed=len(ratings.errors),
            seconds=time.perf_counter() - t0,
            store_path=db.path,
            n_warned=len(ratings.warnings),
            n_incomplete=incomplete,
            engine=engine,
            notes=notes,
        )


def check_requirements(rater: Rater, stimuli: Iterable[Stimulus]) -> None:
    """Raise :class:`RaterUnavailable` naming the install command when a module the whole run needs
    is missing: the rater's :attr:`Rater.requires`, and PyAV where there are videos the rater takes."""
    needs = dict(rater.requires)
    if "video" in rater.media and any(s.media == "video" for s in stimuli):
        needs.setdefault("av", "video decoding (PyAV)")
    missing = [f"{what} needs the {mod!r} module" for mod, what in needs.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise RaterUnavailable(f"{rater.name}: {'; '.join(missing)}, which is not installed. Nothing was rated. "
                               f"{install_hint('core')}")


def _rate_batch(rater: Rater, batch: Sequence[Stimulus], fallbacks: list[str] | None = None) -> list[RateResult]:
    """A batch call that can never lose the whole batch: if it raises or returns the wrong
    number of results, every item is retried alone (and why is appended to ``fallbacks``)."""
    return _whole_or_alone(rater, batch, lambda: rater.rate_batch(batch), fallbacks)


def _whole_or_alone(rater: Rater, batch: Sequence[Stimulus], results: Callable[[], Sequence[RateResult]],
                    fallbacks: list[str] | None = None) -> list[RateResult]:
    """``results()`` when it gives one result per item; when it raises (``RaterUnavailable``
    excepted: nothing can be rated, the run stops and keeps what is finished) or returns the wrong
    number, why is appended to ``fallbacks`` and every item of ``batch`` is rated alone in this
    thread, each reporting its own error."""
    try:
        got = results()
        if len(got) == len(batch):
            return list(got)
        why = f"{len(got)} results for {len(batch)} items"
    except RaterUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - fall back to per-item calls, which report their own errors
        why = f"{type(exc).__name__}: {str(exc)[:200]}"
    if fallbacks is not None:
        fallbacks.append(why)
    return [rater.rate_safely(s) for s in batch]


def _local_runs(rater: Rater, batches: Iterable[Sequence[Stimulus]],
                fallbacks: list[str] | None = None) -> Iterator[tuple[Sequence[Stimulus], list[RateResult]]]:
    """``(batch, results)`` in order. A :attr:`~affectscope.raters.base.Rater.pipelined` rater's
    network passes (:meth:`~affectscope.raters.base.Rater.finish_batch`) run in its worker threads
    (:meth:`~affectscope.raters.base.Rater.finish_workers`) while this thread prepares the next
    batch and stores the previous one: the reading and decoding that hold the GIL overlap the
    network, which releases it (issue #36). Results, their order and the one-transaction-per-batch
    store are as without the pipeline; a batch either stage fails is rated item by item, as
    :func:`_rate_batch` does (why in ``fallbacks``)."""
    if not rater.pipelined:
        for batch in batches:
            yield batch, _rate_batch(rater, batch, fallbacks)
        return
    with rater.finish_workers() as workers:
        in_flight: deque[tuple[Sequence[Stimulus], Callable[[], list[RateResult]]]] = deque()
        for batch in batches:
            in_flight.append((batch, _submit(rater, batch, workers.executor)))
            while len(in_flight) > workers.depth:
                done, results = in_flight.popleft()
                yield done, _whole_or_alone(rater, done, results, fallbacks)
        while in_flight:
            done, results = in_flight.popleft()
            yield done, _whole_or_alone(rater, done, results, fallbacks)


def _submit(rater: Rater, batch: Sequence[Stimulus], executor: Executor) -> Callable[[], list[RateResult]]:
    """``prepare_batch`` here, ``finish_batch`` in a worker: the getter of the batch's results,
    which raises what either stage raised."""
    try:
        prepared = rater.prepare_batch(batch)
    except RaterUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - raised again by the getter: the batch is then rated item by item
        error = exc  # `exc` is unbound when the except block ends

        def failed() -> list[RateResult]:
            raise error

        return failed
    return executor.submit(rater.finish_batch, prepared).result


def rate_images(
    paths: "str | os.PathLike[str] | Iterable[str | os.PathLike[str]]",
    rater: "str | Rater" = "image",
    *,
    progress: bool | None = None,
    **params: Any,
) -> "pd.DataFrame":
    """Rate pictures or videos in memory and return a plain DataFrame: the notebook shortcut.

    No run store is written (nothing to clean up, nothing to resume); the CLI and :func:`rate`
    with ``store=`` keep theirs for long runs.

    Parameters
    ----------
    paths : path or iterable of paths
        Files and folders (searched recursively, as :meth:`StimulusSet.from_paths`).
    rater : str or Rater, default "image"
        A registered name (see ``affectscope raters``) or a rater object.
    progress : bool or None
        As in :func:`rate`.
    **params
        Parameters of a rater given by name, e.g. ``model="ferplus_large"``.

    Returns
    -------
    pandas.DataFrame
        One row per item, indexed by ``item_id``: the rater's columns, ``path``, ``error`` (and
        ``warning``). ``df.attrs["ratings"]`` holds the :class:`Ratings` with its scales.

    Examples
    --------
    >>> from affectscope import rate_images
    >>> df = rate_images(["photos/"], rater="color")  # doctest: +SKIP
    """

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(rater, str):
        rater = make_rater(rater, **params)
    elif params:
        raise TypeError(f"parameters {sorted(params)} go to a rater given by name; {rater.name!r} is already built")
    result = rate(StimulusSet.from_paths(paths), rater, progress=progress)
    df = result.ratings.data.copy()
    df.attrs["ratings"] = result.ratings
    return df
