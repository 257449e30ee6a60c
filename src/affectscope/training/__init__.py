"""Training heads on human norms: :mod:`~affectscope.training.features` (backbone features with a
resumable cache), :mod:`~affectscope.training.heads` (ridge, kernel ridge, soft-label heads; the
``.npz`` head files), :mod:`~affectscope.training.derived` (blocks derived from the networks' own
outputs) and :mod:`~affectscope.training.train` (cross-validated training, the recipes,
``train_from_norms``). Names load on first use."""

from __future__ import annotations

from affectscope._lazy import lazy_getattr

_LAZY = {
    "extract_features": "affectscope.training.features",
    "Features": "affectscope.training.features",
    "Head": "affectscope.training.heads",
    "train_head": "affectscope.training.train",
    "train_from_norms": "affectscope.training.train",
    "Recipe": "affectscope.training.train",
    "RECIPES": "affectscope.training.train",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
