"""Human norms: loaders for the shipped-with-the-project data sets and any CSV."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from affectscope.norms._common import DATA_ENV, NormsError, data_root
from affectscope.norms.cowen_keltner import load_cowen_keltner, load_emonet_split
from affectscope.norms.emotion_6 import load_emotion6
from affectscope.norms.ferplus import load_ferplus, load_ferplus_faces
from affectscope.norms.generic import load_table_norms
from affectscope.norms.oasis import load_oasis
from affectscope.ratings import Ratings

NORM_LOADERS: dict[str, Callable[..., Ratings]] = {
    "oasis": load_oasis,
    "emotion6": load_emotion6,
    "ferplus": load_ferplus,
    "ferplus_clear": partial(load_ferplus, clear_only=True),  # the FER+ authors' protocol: clear majorities only
    "cowen_keltner": load_cowen_keltner,
}


def load_norms(name: str, root: Any = None, **kwargs: Any) -> Ratings:
    """Load a named norm set (``oasis``, ``emotion6``, ``ferplus``, ``ferplus_clear``, ``cowen_keltner``)."""
    try:
        loader = NORM_LOADERS[name]
    except KeyError:
        raise KeyError(f"unknown norm set {name!r}; available: {sorted(NORM_LOADERS)}") from None
    return loader(root, **kwargs)


__all__ = [
    "DATA_ENV", "NORM_LOADERS", "NormsError", "data_root", "load_cowen_keltner", "load_emonet_split",
    "load_emotion6", "load_ferplus", "load_ferplus_faces", "load_norms", "load_oasis", "load_table_norms",
]
