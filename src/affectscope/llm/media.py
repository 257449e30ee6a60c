"""Stimuli as message content: images as data URLs, videos as keyframes plus context.

Context enrichment (after arXiv 2604.15280): a VLM shown a few sparse keyframes misses what
happens between them. With ``context=True`` each gap between keyframes is summarised in words
from per-frame evidence decoded densely (default 4 frames/s) — the facial expression of the
largest face (the ``face`` rater's model, when the faces extra is installed), brightness and
motion — so the model sees the trajectory without a dense frame dump. ``context=False`` sends the
keyframes alone (the ablation).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from affectscope.media.image import load_image


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


FrameEvidence = Callable[[np.ndarray], dict[str, float]]


def _face_evidence() -> FrameEvidence | None:
    """Per-frame facial expression of the largest face, if the faces extra is installed."""
    try:
        from affectscope.raters.face import FaceRater

        rater = FaceRater()
        labels = [c.name for c in rater.outputs() if c.kind == "category"]
    except Exception:  # noqa: BLE001 - no OpenCV/weights: context falls back to brightness and motion
        return None

    def evidence(rgb: np.ndarray) -> dict[str, float]:
        out = rater.rate_array(rgb)
        return {k: out[k] for k in labels}

    return evidence


def video_content(
    path: Path, *, keyframes: int, max_side: int, context: bool, context_fps: float = 4.0,
    evidence: FrameEvidence | None = None,
) -> list[dict[str, Any]]:
    """Keyframes as images, each preceded by its time; with ``context``, a line of text per gap."""
    from affectscope.media.video import count_frames, read_frames, uniform_indices, video_fps

    n = count_frames(path)
    fps = video_fps(path) or 25.0
    key_idx = uniform_indices(n, keyframes)
    parts: list[dict[str, Any]] = [{"type": "text", "text": f"The video lasts {n / fps:.1f} s; you see {len(key_idx)} keyframes in order."}]
    if not context:
        for f in read_frames(path, key_idx, max_side=max_side):
            parts += [{"type": "text", "text": f"Keyframe at {f.time:.2f} s:"}, image_part(encode_jpeg(f.rgb, max_side))]
        return parts
    step = max(1, int(round(fps / context_fps)))
    dense = sorted(set(range(0, n, step)) | set(key_idx))
    frames = read_frames(path, dense, max_side=max_side)
    ev = evidence if evidence is not None else _face_evidence()
    keys = set(key_idx)
    prev_key = None
    between: list[Any] = []
    for f in frames:
        if f.index in keys:
            if between or prev_key is not None:
                parts.append({"type": "text", "text": describe_gap(prev_key, f, between, ev)})
            parts += [{"type": "text", "text": f"Keyframe at {f.time:.2f} s:"}, image_part(encode_jpeg(f.rgb, max_side))]
            prev_key, between = f, []
        else:
            between.append(f)
    if between:
        parts.append({"type": "text", "text": describe_gap(prev_key, None, between, ev)})
    return parts


def describe_gap(before: Any, after: Any, frames: list[Any], evidence: FrameEvidence | None) -> str:
    """One sentence about the frames between two keyframes: expression changes, brightness, motion."""
    span = [x for x in [before, *frames, after] if x is not None]
    t0, t1 = span[0].time, span[-1].time
    head = f"Between {t0:.2f} s and {t1:.2f} s ({len(frames)} frames not shown):"
    if not frames:
        return f"{head} nothing in between."
    bits = []
    if evidence is not None:
        rows = [(f.time, evidence(f.rgb)) for f in frames]
        faces = [(t, r) for t, r in rows if r and not all(np.isnan(v) for v in r.values())]
        if not faces:
            bits.append("no face visible")
        else:
            tops = []
            for t, r in faces:
                k = max(r, key=lambda c: -1 if np.isnan(r[c]) else r[c])
                tops.append((t, k, r[k]))
            non_neutral = [x for x in tops if x[1] != "neutral"]
            if non_neutral:
                t, k, p = max(non_neutral, key=lambda x: x[2])
                bits.append(f"the face shows {k} (peak {p:.2f} at {t:.2f} s)")
            else:
                bits.append("the face stays neutral")
    grey = [f.rgb.mean() for f in span]
    diffs = [float(np.abs(a.rgb.astype(np.float32) - b.rgb.astype(np.float32)).mean())
             for a, b in zip(span, span[1:]) if a.rgb.shape == b.rgb.shape]
    if max(grey) - min(grey) > 25:
        bits.append("it gets " + ("brighter" if grey[-1] > grey[0] else "darker"))
    motion = max(diffs) if diffs else 0.0
    bits.append("a lot of movement" if motion > 30 else "some movement" if motion > 8 else "little movement")
    return f"{head} " + "; ".join(bits) + "."
