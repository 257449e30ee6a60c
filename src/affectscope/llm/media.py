"""Stimuli as message content: images as data URLs, videos as keyframes plus context.

Context enrichment (Agarwal et al. 2026, arXiv 2604.15280): a VLM shown a few sparse keyframes
misses what happens between them, 0.25-0.5 s micro-expressions above all. With ``context=True``
each gap between keyframes is summarised in one sentence from the frames the face rater's
change-aware sampler picks (every frame is decoded and compared, so the onset and the end of an
expression are analysed; ``bench/context_enrichment.py`` measures how many bursts reach the text):
the facial expressions of the largest face (the ``face`` rater's FER+ network, when the faces extra
is installed), brightness and motion, and how many real frames the gap holds. ``context=False``
sends the keyframes alone (the ablation).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from affectscope.faces.pipeline import FacePipeline
from affectscope.faces.video import SamplingSpec, episodes, frame_series
from affectscope.media.image import load_image
from affectscope.media.video import count_frames, read_frames, uniform_indices, video_fps


def encode_jpeg(rgb: np.ndarray, max_side: int, quality: int = 90) -> str:
    """An RGB array as a JPEG data URL whose longer side is at most ``max_side``."""
    im = Image.fromarray(rgb)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if detail:
        part["image_url"]["detail"] = detail
    return part


def image_content(path: Path, max_side: int) -> list[dict[str, Any]]:
    """One image (EXIF-rotated, any mode converted to RGB, resized) as message parts."""
    return [image_part(encode_jpeg(load_image(path, max_side=max_side), max_side))]


#: The face rater used for context evidence: the more accurate network with a light prior
#: correction, which detected 97 % of 0.25-0.5 s bursts with change-aware sampling
#: (bench/micro_expressions.py) against 92 % for the default network.
CONTEXT_FACE_PARAMS: dict[str, Any] = {"model": "ferplus_large", "prior_correction": 0.1}

_FACE_MODEL: list[tuple[Any, list[str], str | None]] = []


def face_model() -> tuple[Any, list[str], str | None]:
    """``(face pipeline, expression labels, None)``, or ``(None, [], why)`` when it cannot run here (no
    OpenCV, no weights): context then falls back to brightness and motion. Tried once per process
    on a blank frame, so a missing dependency shows here, not as a failure of every video."""
    if not _FACE_MODEL:
        try:
            rater = FacePipeline(**CONTEXT_FACE_PARAMS)
            rater.check()
            labels = list(rater.labels)
            rater.rate_array(np.zeros((64, 64, 3), dtype=np.uint8))
        except Exception as exc:  # noqa: BLE001 - any missing piece means: no face evidence
            _FACE_MODEL.append((None, [], f"no facial-expression evidence in the video context ({type(exc).__name__}: {exc}); "
                                          "it describes brightness and motion only. Install the faces extra for expressions"))
        else:
            _FACE_MODEL.append((rater, labels, None))
    return _FACE_MODEL[0]


class _ContextProbe:
    """What :func:`affectscope.faces.video.frame_series` runs on each frame it samples: the face
    rater's output (whose face box also steers change detection), plus brightness and the motion
    since the previous sampled frame."""

    def __init__(self, face: Any) -> None:
        self.face = face
        self._last: np.ndarray | None = None

    def rate_array(self, rgb: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.face.rate_array(rgb)) if self.face is not None else {}
        small = _small(rgb)
        out["_brightness"] = float(small.mean())
        out["_motion"] = float(np.abs(small - self._last).mean()) if self._last is not None else 0.0
        self._last = small
        return out


def context_series(path: Path, sampling: Any = None) -> tuple[pd.DataFrame, list[str], str | None]:
    """The frames the context describes, sampled change-aware (the face rater's sampler; every
    frame is decoded and checked, few are analysed): one row per analysed frame with ``frame``,
    ``time``, the expression probabilities of the largest face (NaN without one), ``_brightness``
    and ``_motion``; the expression labels; and why expressions are missing, if they are."""

    face, labels, why = face_model()
    series, _ = frame_series(path, _ContextProbe(face), sampling or SamplingSpec(strategy="change"))
    return series, labels, why


def video_content(
    path: Path, *, keyframes: int, max_side: int, context: bool, sampling: Any = None,
) -> list[dict[str, Any]]:
    """Keyframes as images, each preceded by its time; with ``context``, a sentence per gap between
    keyframes from the frames :func:`context_series` analysed in it, saying how many real frames
    the gap holds and how many were analysed."""

    n = count_frames(path)
    fps = video_fps(path) or 25.0
    key_idx = uniform_indices(n, keyframes)
    parts: list[dict[str, Any]] = [{"type": "text", "text": f"The video lasts {n / fps:.1f} s; you see {len(key_idx)} keyframes in order."}]
    keys = read_frames(path, key_idx, max_side=max_side)
    if not context:
        for f in keys:
            parts += [{"type": "text", "text": f"Keyframe at {f.time:.2f} s:"}, image_part(encode_jpeg(f.rgb, max_side))]
        return parts
    series, labels, _ = context_series(path, sampling)
    bounds: list[tuple[Any, Any]] = []
    prev = None
    for f in keys:
        bounds.append((prev, f))
        prev = f
    bounds.append((prev, None))
    for before, after in bounds:
        lo = before.index if before is not None else -1
        hi = after.index if after is not None else n
        if hi - lo > 1:
            rows = series[(series["frame"] > lo) & (series["frame"] < hi)] if len(series) else series
            t0 = before.time if before is not None else 0.0
            t1 = after.time if after is not None else n / fps
            edges = tuple(_brightness(f.rgb) if f is not None else None for f in (before, after))
            parts.append({"type": "text", "text": describe_gap(t0, t1, hi - lo - 1, rows, labels, edges)})
        if after is not None:
            parts += [{"type": "text", "text": f"Keyframe at {after.time:.2f} s:"}, image_part(encode_jpeg(after.rgb, max_side))]
    return parts


def expression_episodes(rows: pd.DataFrame, labels: list[str], limit: int = 3) -> list[str]:
    """Non-neutral expressions in ``rows`` (analysed frames of one gap), as runs of frames with the
    same top expression: ``"surprise at 1.20-1.36 s (peak 0.81)"``, strongest first, at most ``limit``."""

    if not labels or not len(rows):
        return []
    runs = episodes(rows.dropna(subset=labels), labels, min_p=0.0)  # every run of one top expression
    text = []
    for e in sorted(runs, key=lambda e: -e["peak"])[:limit]:
        span = f"{e['onset']:.2f} s" if e["onset"] == e["offset"] else f"{e['onset']:.2f}-{e['offset']:.2f} s"
        text.append(f"{e['label']} at {span} (peak {e['peak']:.2f})")
    return text


def _small(rgb: np.ndarray) -> np.ndarray:
    """A 64x64 float copy of a frame: what brightness and motion are measured on."""
    return np.asarray(Image.fromarray(rgb).resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float32)


def _brightness(rgb: np.ndarray) -> float:
    return float(_small(rgb).mean())


def describe_gap(t0: float, t1: float, n_real: int, rows: pd.DataFrame, labels: list[str],
                 edges: tuple[float | None, float | None] = (None, None)) -> str:
    """One sentence about the frames between two keyframes: expressions, brightness (from the
    keyframe before, through the analysed frames, to the keyframe after: ``edges``), motion, and how
    many real frames the gap holds and how many of them were analysed."""
    head = f"Between {t0:.2f} s and {t1:.2f} s ({n_real} frames not shown, {len(rows)} analysed):"
    bits = []
    if not len(rows):
        bits.append("every frame was compared and none changed enough to analyse")
    elif labels:
        have = rows.dropna(subset=labels)
        if not len(have):
            bits.append("no face visible")
        else:
            shown = expression_episodes(rows, labels)
            bits.append("the face shows " + "; ".join(shown) if shown else "the face stays neutral")
    inside = list(rows["_brightness"]) if len(rows) else []
    grey = np.array([b for b in (edges[0], *inside, edges[1]) if b is not None], dtype=float)
    if len(grey) and grey.max() - grey.min() > 25:
        bits.append("it gets " + ("brighter" if grey[-1] > grey[0] else "darker"))
    if len(rows):
        motion = float(rows["_motion"].max())
        bits.append("a lot of movement" if motion > 30 else "some movement" if motion > 8 else "little movement")
    return f"{head} " + "; ".join(bits) + "."
