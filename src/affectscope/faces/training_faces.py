"""Recognising the faces the expression models were trained on.

The FER+ CNNs were trained on FER+ train, and the FER2013 mini-Xception on FER2013 Training, which
holds the same 48x48 faces. Rating those faces and comparing with their labels measures fit, not
generalisation. This module lists them by content: the first 8 bytes of the SHA-256 of each face's
48x48 grey pixels (so a face exported to PNG under any name is still recognised), for the 28,558
faces of ``ferplus_train.npz``. The list is written by ``scripts/train_ferplus.py --write-train-keys``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import numpy as np

#: Shipped list of training-face keys (sorted uint64), next to the weights.
KEYS_FILE = "training_face_keys.npy"
FACE_SIDE = 48


def face_key(grey: np.ndarray) -> int:
    """Content key of a ``(48, 48)`` uint8 grey face: the SHA-256 of its pixels, first 8 bytes."""
    data = np.ascontiguousarray(grey, dtype=np.uint8)
    return int.from_bytes(hashlib.sha256(data.tobytes()).digest()[:8], "little")


def face_keys(faces: np.ndarray) -> np.ndarray:
    """Sorted, unique uint64 keys of ``(N, 48, 48)`` uint8 faces."""
    return np.unique(np.array([face_key(f) for f in faces], dtype=np.uint64))


@lru_cache(maxsize=1)
def training_face_keys() -> np.ndarray:
    """The shipped keys of the FER+ train / FER2013 Training faces (sorted uint64)."""
    path = resources.files("affectscope.faces") / "weights" / KEYS_FILE
    with resources.as_file(path) as p:
        return np.load(p, allow_pickle=False)


_KEY_SET: tuple[np.ndarray, frozenset[int]] | None = None


def _key_set() -> frozenset[int]:
    """:func:`training_face_keys` as a set of Python ints (one lookup per rated face), made once
    per key array."""
    global _KEY_SET
    keys = training_face_keys()
    if _KEY_SET is None or _KEY_SET[0] is not keys:
        _KEY_SET = (keys, frozenset(keys.tolist()))
    return _KEY_SET[1]


def is_training_face(grey: np.ndarray) -> bool:
    """True when ``grey`` is exactly one of the expression models' 48x48 training faces."""
    return grey.shape == (FACE_SIDE, FACE_SIDE) and face_key(grey) in _key_set()
