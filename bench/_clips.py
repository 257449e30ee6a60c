"""Synthetic clips with a short expression burst, from real FER+ validation faces (shared by
``micro_expressions.py`` and ``context_enrichment.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from affectscope.media.video import write_video


def frame_of(face: np.ndarray, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A 48x48 face upscaled to ``size``, with +-1 px jitter and sensor noise (sigma 3), as RGB."""
    img = np.asarray(Image.fromarray(face).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    img = np.roll(img, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    return np.repeat(img[:, :, None], 3, axis=2)


def load_valid_faces(data_root: str | None) -> tuple[Any, np.ndarray, Any]:
    """FER+ validation faces (names, 48x48 images) and their vote shares, or exit saying what is missing."""
    from affectscope.norms import NormsError, load_norms
    from affectscope.norms.ferplus import load_ferplus_faces

    try:
        names, images = load_ferplus_faces(data_root, "valid")
        return names, images, load_norms("ferplus", data_root).data
    except NormsError as exc:
        sys.exit(f"this benchmark needs ../shared/data/ferplus (or --data-root): {exc}")


def burst_faces(names: Any, norms: Any, labels: list[str]) -> tuple[list[int], list[tuple[int, str]]]:
    """Indices of neutral faces (FER+ majority neutral, >= 70 % of votes) and of expressive ones
    (majority non-neutral, >= 60 %) with their label."""
    index = {n: i for i, n in enumerate(names)}
    share = norms[labels].to_numpy(float)
    ids = norms.index.astype(str)
    neutral = [index[i] for i, s in zip(ids, share) if s[0] >= 0.7]
    expressive = [(index[i], labels[int(s.argmax())]) for i, s in zip(ids, share) if s.argmax() > 0 and s.max() >= 0.6]
    return neutral, expressive


def write_burst_clip(path: Path, images: np.ndarray, neutral: list[int], expressive: list[tuple[int, str]],
                     rng: np.random.Generator, *, seconds: float, min_s: float = 0.25, max_s: float = 0.5) -> tuple[Path, int, int, str, int]:
    """A neutral face held for ``seconds`` with a burst of an expressive face lasting ``min_s``-``max_s``
    at a random time (25 or 30 fps, H.264); returns ``(path, start frame, length, label, frames)``."""
    fps = int(rng.choice([25, 30]))
    n = int(round(seconds * fps))
    length = int(round(rng.uniform(min_s, max_s) * fps))
    start = int(rng.integers(int(0.2 * fps), n - length - int(0.2 * fps)))
    a = neutral[int(rng.integers(len(neutral)))]
    b, label = expressive[int(rng.integers(len(expressive)))]
    frames = [frame_of(images[b] if start <= i < start + length else images[a], rng) for i in range(n)]
    write_video(path, frames, fps=fps, crf=16)
    return path, start, length, label, n
