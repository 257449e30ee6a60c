"""Faces: detection and expression models (FER+ CNN, FER2013 mini-Xception port)."""

from __future__ import annotations

import numpy as np


def face_input(grey: np.ndarray, size: int) -> np.ndarray:
    """``(N, size, size)`` uint8 grey faces -> ``(N, 1, size, size)`` float32 in [-1, 1]
    (``(x / 255 - 0.5) * 2``, the preprocessing of both face models)."""
    x = np.asarray(grey, np.float32)
    if x.ndim != 3 or x.shape[1:] != (size, size):
        raise ValueError(f"expected grey faces of shape (N, {size}, {size}), got {x.shape}")
    return ((x / 255.0 - 0.5) * 2.0)[:, None]
