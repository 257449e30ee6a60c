"""Worker threads for a pipelined run's network passes (:func:`affectscope.rate`, issue #36).

A pipelined rater's :meth:`~affectscope.raters.base.Rater.finish_batch` (the network pass) runs in
worker threads while the calling thread decodes the next batch and stores the previous one.
:func:`one_thread` is the plain case; :func:`torch_split` gives each of several workers its own
share of torch's intra-op threads, so the network runs on independent batches side by side
instead of spreading one batch over every core. With one forward pass over both cores, the cores
wait for each other at every layer, and the decoding thread's time on either core stalls both.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

THREAD_PREFIX = "affectscope-network"


@dataclass(frozen=True)
class Workers:
    """Where finish calls run: ``executor``, and ``depth`` batches in flight in it at most."""

    executor: ThreadPoolExecutor
    depth: int


@contextmanager
def one_thread() -> Iterator[Workers]:
    """One worker thread, one batch in flight (the default of every pipelined rater)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_PREFIX)
    try:
        yield Workers(pool, 1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def torch_split(workers: int = 2) -> Iterator[Workers]:
    """``workers`` threads (at most torch's thread count), each running torch with an equal share of
    its intra-op threads (OpenMP thread counts are per thread). ``torch.set_num_threads`` also sets
    the count that threads started later begin with, so it is put back on exit."""
    import torch

    total = torch.get_num_threads()
    workers = max(1, min(int(workers), total))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=THREAD_PREFIX,
                              initializer=torch.set_num_threads, initargs=(max(1, total // workers),))
    try:
        yield Workers(pool, workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(total)
