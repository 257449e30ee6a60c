"""Running a rater over stimuli: :mod:`~affectscope.run.rate` (``rate()``: batches, checks,
progress, resume; ``rate_images()``: a DataFrame without a store) on top of
:mod:`~affectscope.run.store` (the resumable SQLite run store). Names load on first use."""

from __future__ import annotations

from affectscope._lazy import lazy_getattr

_LAZY = {
    "rate": "affectscope.run.rate",
    "rate_images": "affectscope.run.rate",
    "RunResult": "affectscope.run.rate",
    "RunStore": "affectscope.run.store",
    "StoreMismatchError": "affectscope.run.store",
    "StoreLockedError": "affectscope.run.store",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
