"""The backbone contract: images in, named feature blocks out.

A backbone turns a list of RGB images into a dict of named 2-D float32 arrays (one row per image),
e.g. ``{"stage3": (N, 40), "stage4": ..., "head": (N, 1280), "concepts": (N, 1000)}``. Heads pick
which blocks to use; the blocks and their names are the backbone's :meth:`Backbone.blocks`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from affectscope._checks import check_option
from affectscope.media.image import MIN_SIDE, describe_error, load_image
from affectscope.stimuli import Stimulus

#: How an image is fitted into the square input: ``center`` resizes the short side and crops the
#: middle (ImageNet practice); ``full`` resizes the whole picture to the square, keeping all of it
#: (a slight change of aspect ratio); ``center+flip`` and ``full+flip`` also average the features
#: of the mirror image (test-time augmentation: twice the compute).
VIEWS = ("center", "full", "center+flip", "full+flip")


def fit_square(rgb: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image to ``(size, size, 3)`` by ``mode`` ("center" or "full")."""
    im = Image.fromarray(rgb)
    if mode == "full":
        return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0))
    if mode != "center":
        raise ValueError(f"fit mode must be 'center' or 'full', got {mode!r}")
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)))


class Backbone(ABC):
    """Base class: parameters in the constructor, model loaded lazily on first use."""

    #: Square input side in pixels.
    input_size: int = 224

    @abstractmethod
    def blocks(self) -> dict[str, int]:
        """Feature block names and their widths, in output order."""

    @abstractmethod
    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Features of a ``(N, size, size, 3)`` uint8 batch already fitted to the input size."""

    def params(self) -> dict[str, Any]:
        """Everything that changes the features (for cache keys and fingerprints)."""
        return {"class": type(self).__name__}

    def fingerprint(self) -> str:
        blob = json.dumps(self.params(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def prepare(self, rgb: np.ndarray, view: str) -> list[np.ndarray]:
        """The input arrays of one image for ``view`` (one, or two with the mirror image)."""
        check_option("view", view, VIEWS)
        base = fit_square(rgb, self.input_size, view.split("+")[0])
        return [base, base[:, ::-1].copy()] if view.endswith("+flip") else [base]

    def embed_prepared(self, prepared: Sequence[Any]) -> dict[str, np.ndarray]:
        """Features of images returned by :meth:`prepare` (averaged over each image's views)."""
        if not prepared:
            return {n: np.zeros((0, w), np.float32) for n, w in self.blocks().items()}
        per = len(prepared[0])
        feats = self.embed_arrays(np.stack([a for p in prepared for a in p]))
        if per == 1:
            return feats
        return {k: v.reshape(len(prepared), per, -1).mean(axis=1) for k, v in feats.items()}

    def embed(self, images: Sequence[np.ndarray], view: str = "center") -> dict[str, np.ndarray]:
        """Features of RGB images of any size."""
        return self.embed_prepared([self.prepare(im, view) for im in images])


class Ensemble(Backbone):
    """Several backbones side by side; block names are prefixed with each member's tag
    (``"lite0/head"``). Each image is decoded once and resized for every member."""

    def __init__(self, members: Sequence[tuple[str, Backbone]]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one backbone")
        self.members = list(members)
        self.input_size = max(b.input_size for _, b in self.members)

    def params(self) -> dict[str, Any]:
        return {"class": "Ensemble", "members": [[t, b.params()] for t, b in self.members]}

    def blocks(self) -> dict[str, int]:
        return {f"{t}/{n}": w for t, b in self.members for n, w in b.blocks().items()}

    def prepare(self, rgb: np.ndarray, view: str) -> Any:  # type: ignore[override]
        return tuple(b.prepare(rgb, view) for _, b in self.members)

    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        raise TypeError("an Ensemble embeds prepared images (embed_prepared), not one array batch")

    def embed_prepared(self, prepared: Sequence[Any]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for k, (tag, b) in enumerate(self.members):
            for n, v in b.embed_prepared([p[k] for p in prepared]).items():
                out[f"{tag}/{n}"] = v
        return out

    def __repr__(self) -> str:
        return "+".join(t for t, _ in self.members)


def decode_side(backbone: Backbone) -> int:
    """The longer side pictures are decoded at for ``backbone`` (twice its input, at least 512 px),
    before each network's own resize."""
    return max(2 * backbone.input_size, 512)


def load_prepared(backbone: Backbone, s: Stimulus, view: str) -> Any:
    """The backbone input of one stimulus (decoded at a reduced size, fitted to the view), or a
    message saying why it cannot be loaded (one bad item never kills a batch)."""
    try:
        if s.path is None:
            raise ValueError("stimulus has no file path")
        return backbone.prepare(load_image(s.path, max_side=decode_side(backbone), min_side=MIN_SIDE), view)
    except Exception as exc:  # noqa: BLE001 - recorded per item
        return describe_error(exc)
