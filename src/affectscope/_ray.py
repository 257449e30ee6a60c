"""Ray, the optional engine for scaling out: imported on first use, with the install command when it is missing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

RAY_INSTALL = "pip install 'affectscope[ray]'"


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (Ray not installed, no cluster at the address, a rater
    the workers cannot build); nothing was computed."""


def require_ray() -> Any:
    """The ``ray`` module, or :class:`EngineUnavailable` naming the install command."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(f"engine 'ray' needs Ray, which is not installed. Nothing was run. Fix: {RAY_INSTALL}") from None
    return ray


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` or to a local Ray runtime started
    now (once per process; a process already connected keeps its connection)."""
    ray = require_ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from an offline lab machine
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=True, configure_logging=False)
        except ConnectionError as exc:
            raise EngineUnavailable(f"cannot reach the Ray cluster at {address!r} ({exc}). Nothing was run. "
                                    "Fix: check --ray-address (e.g. ray://HEAD:10001), or leave it out for a local runtime") from None
    return ray


def stream(actors: Sequence[Any], call: Callable[[Any, Any], Any], work: Iterable[Any], *, in_flight: int = 2
           ) -> Iterator[tuple[int, Any, Any]]:
    """``(actor index, work item, object ref)`` as the actors finish their work, in that order.

    ``call(actor, item)`` submits one item; each actor keeps ``in_flight`` items queued (the next one
    waits when one finishes), so memory is bounded by ``len(actors) * in_flight`` items whatever the
    length of ``work``. The caller ``ray.get``\\ s each ref (and handles its errors); the actors are
    killed when the stream ends or is abandoned."""
    ray = require_ray()
    items = iter(work)
    pending: dict[Any, tuple[int, Any]] = {}
    done = object()

    def submit(k: int) -> None:
        item = next(items, done)
        if item is not done:
            pending[call(actors[k], item)] = (k, item)

    try:
        for k in range(len(actors)):
            for _ in range(in_flight):
                submit(k)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            k, item = pending.pop(ref)
            yield k, item, ref
            submit(k)
    finally:
        for a in actors:
            ray.kill(a, no_restart=True)


def map_tasks(fn: Callable[..., Any], shared: Sequence[Any], args: Sequence[Any], *,
              on_done: Callable[[], None] | None = None) -> list[Any]:
    """``[fn(*shared, a) for a in args]`` as Ray tasks (one CPU each, retried 3 times), the ``shared``
    arguments put in the object store once; results in the order of ``args``, ``on_done()`` called
    as each finishes (a progress bar)."""
    ray = connect()
    task = ray.remote(num_cpus=1, max_retries=3)(fn)
    refs_shared = [ray.put(x) for x in shared]
    refs = [task.remote(*refs_shared, a) for a in args]
    order = {r: k for k, r in enumerate(refs)}
    out: list[Any] = [None] * len(refs)
    left = list(refs)
    while left:
        ready, left = ray.wait(left, num_returns=1)
        out[order[ready[0]]] = ray.get(ready[0])
        if on_done is not None:
            on_done()
    return out
