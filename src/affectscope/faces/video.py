"""Faces in video: frame sampling that does not miss micro-expressions, per-frame series, aggregates.

Sampling strategies (which decoded frames the face model processes):

``uniform``
    ``k`` frames evenly spaced over the clip — what VLM pipelines do (e.g. 16 frames). A 0.3 s
    expression in a 10 s clip falls between two of 16 samples more often than not.
``fps``
    a fixed rate (e.g. 4 frames/s: one frame every 0.25 s).
``change``
    change-aware: a low base rate (``base_fps``) plus every frame where the face region (the
    largest face of the last processed frame, else the whole frame) differs from the last
    processed frame by more than ``max(threshold, noise_factor x noise)`` — the mean absolute
    difference of a 24x24 area-averaged grey thumbnail (0-255), where ``noise`` is the median
    frame-to-frame difference over the last 15 decoded frames (sensor noise, jitter). It is
    checked on every decoded frame at a cost of about a millisecond. An expression change makes
    that signal jump, so the frame where it starts is processed, and so is the frame where it
    ends; ``min_gap_s`` keeps a noisy stretch from processing every frame.

Every frame is decoded in all strategies (change detection needs it, and decoding is cheap next
to detection + expression inference); what differs is how many frames are processed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from affectscope._checks import check_option
from affectscope.media.image import MediaError
from affectscope.media.video import count_frames, iter_frames, uniform_indices

STRATEGIES = ("uniform", "fps", "change")
THUMB = 24


@dataclass(frozen=True)
class SamplingSpec:
    """How to choose the frames to process (see the module docstring)."""

    strategy: str = "change"
    k: int = 16
    fps: float = 4.0
    base_fps: float = 1.0
    threshold: float = 10.0
    noise_factor: float = 3.0
    min_gap_s: float = 0.04

    def __post_init__(self) -> None:
        check_option("sampling", self.strategy, STRATEGIES)
        if self.k < 1 or self.fps <= 0 or self.base_fps <= 0 or self.threshold <= 0:
            raise ValueError("k, fps, base_fps and threshold must be positive")


def _thumb(rgb: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A THUMB x THUMB grey thumbnail of the face box (or the frame) by area averaging, so that
    sensor noise and one-pixel jitter average out while an expression change does not."""
    grey = rgb.mean(axis=2) if rgb.ndim == 3 else rgb.astype(np.float32)
    if box is not None:
        x, y, w, h = box
        crop = grey[max(0, y): y + h, max(0, x): x + w]
        if crop.size:
            grey = crop
    h, w = grey.shape
    if h < THUMB or w < THUMB:
        return np.asarray(Image.fromarray(grey.astype(np.float32)).resize((THUMB, THUMB), Image.Resampling.BILINEAR))
    ys = np.linspace(0, h, THUMB + 1).astype(int)
    xs = np.linspace(0, w, THUMB + 1).astype(int)
    rows = np.add.reduceat(grey, ys[:-1], axis=0) / np.diff(ys)[:, None]
    return (np.add.reduceat(rows, xs[:-1], axis=1) / np.diff(xs)[None, :]).astype(np.float32)


def frame_series(path: str | os.PathLike[str], rater: Any, spec: SamplingSpec | None = None, *, n_frames: int | None = None) -> tuple[pd.DataFrame, int]:
    """Process the frames ``spec`` chooses with a face rater (anything with ``rate_array(rgb)``; a
    :class:`~affectscope.faces.pipeline.FacePipeline` detects per frame and classifies all the
    processed frames' faces in batches).

    Returns
    -------
    series : DataFrame
        One row per processed frame: ``frame``, ``time`` and the rater's values.
    n_decoded : int
        Frames decoded.
    """

    spec = spec or SamplingSpec()
    wanted: set[int] | None = None
    if spec.strategy == "uniform":
        n = n_frames if n_frames is not None else count_frames(path)
        wanted = set(uniform_indices(n, spec.k))
    rows: list[dict[str, Any]] = []
    rate = spec.fps if spec.strategy == "fps" else spec.base_fps
    last_bin = -1  # the first decoded frame of each 1/rate time bin is processed
    last_t = -1e9
    last_thumb: np.ndarray | None = None
    prev_thumb: np.ndarray | None = None
    noise: list[float] = []
    box: tuple[int, int, int, int] | None = None
    n_decoded = 0
    # a face pipeline classifies every processed frame's faces in batches after the last frame;
    # any other rater (``rate_array`` only) rates each frame as it comes
    batched = hasattr(rater, "find") and hasattr(rater, "classify")
    found: list[Any] = []
    for f, fps in iter_frames(path):
        n_decoded += 1
        thumb = _thumb(f.rgb, box) if spec.strategy == "change" else None
        if thumb is not None and prev_thumb is not None and prev_thumb.shape == thumb.shape:
            noise = [*noise[-14:], float(np.abs(thumb - prev_thumb).mean())]
        prev_thumb = thumb
        time_bin = int(f.time * rate + 1e-6)
        if wanted is not None:
            take = f.index in wanted
        else:
            take = time_bin != last_bin
            if not take and thumb is not None and last_thumb is not None and f.time - last_t >= spec.min_gap_s:
                limit = max(spec.threshold, spec.noise_factor * float(np.median(noise))) if noise else spec.threshold
                take = float(np.abs(thumb - last_thumb).mean()) > limit
        if not take:
            continue
        if batched:  # detect now (the next frames' change signal needs the face box), classify at the end
            found.append(rater.find(f.rgb))
            rows.append({"frame": f.index, "time": round(f.time, 4)})
            b = found[-1].boxes[0] if found[-1].boxes else None
            new_box = None if b is None else (int(b.x), int(b.y), int(b.w), int(b.h))
        else:
            values = rater.rate_array(f.rgb)
            rows.append({"frame": f.index, "time": round(f.time, 4), **values})
            new_box = _largest_box(values)
        last_t, last_bin = f.time, time_bin
        if new_box != box:
            box, noise = new_box, []
            prev_thumb = _thumb(f.rgb, box) if spec.strategy == "change" else None
        last_thumb = _thumb(f.rgb, box) if spec.strategy == "change" else None
    if n_decoded == 0:
        raise MediaError(Path(path), "the video has no decodable frames", "re-encode it as H.264 MP4")
    if batched:
        rows = [{**row, **values} for row, values in zip(rows, rater.classify(found), strict=True)]
    return pd.DataFrame(rows), n_decoded


def _largest_box(values: dict[str, Any]) -> tuple[int, int, int, int] | None:
    import json

    faces = values.get("faces")
    if not faces or faces == "[]":
        return None
    b = json.loads(faces)[0]["box"]
    return int(b[0]), int(b[1]), int(b[2]), int(b[3])


def aggregate(series: pd.DataFrame, labels: list[str], *, neutral: str = "neutral", min_p: float = 0.5) -> dict[str, Any]:
    """Per-video summary of a frame series.

    ``<label>``: mean probability over processed frames with a face; ``peak_<label>`` is not kept
    (the columns stay those of an image) but the strongest non-neutral *episode* is described:
    the contiguous processed frames whose top emotion is the same non-neutral label with
    probability >= ``min_p``; onset and offset are the times of its first and last frame.
    """
    have = series.dropna(subset=labels) if len(series) else series
    out: dict[str, Any] = {c: float(have[c].mean()) if len(have) else float("nan") for c in labels}
    episode = strongest_episode(have, labels, neutral=neutral, min_p=min_p)
    out["episode"] = "" if episode is None else (
        f"{episode['label']} {episode['onset']:.2f}-{episode['offset']:.2f} s (peak {episode['peak']:.2f} at {episode['peak_time']:.2f} s)"
    )
    return out


def episodes(series: pd.DataFrame, labels: list[str], *, neutral: str = "neutral", min_p: float = 0.5) -> list[dict[str, Any]]:
    """Every run of consecutive frames with one non-neutral top emotion at probability >= ``min_p``,
    in time order: ``label``, ``onset`` and ``offset`` (times of its first and last frame),
    ``peak`` and ``peak_time``."""
    if not len(series):
        return []
    probs = series[labels].to_numpy(float)
    top = probs.argmax(axis=1)
    times = series["time"].to_numpy(float)
    found = []
    i = 0
    while i < len(series):
        lab = labels[top[i]]
        if lab == neutral or probs[i, top[i]] < min_p:
            i += 1
            continue
        j = i
        while j + 1 < len(series) and top[j + 1] == top[i] and probs[j + 1, top[i]] >= min_p:
            j += 1
        seg = probs[i: j + 1, top[i]]
        k = i + int(seg.argmax())
        found.append({"label": lab, "onset": float(times[i]), "offset": float(times[j]), "peak": float(seg.max()),
                      "peak_time": float(times[k])})
        i = j + 1
    return found


def strongest_episode(series: pd.DataFrame, labels: list[str], *, neutral: str = "neutral", min_p: float = 0.5) -> dict[str, Any] | None:
    """The strongest run of frames with one non-neutral top emotion (see :func:`aggregate`); the
    earliest of equally strong ones."""
    found = episodes(series, labels, neutral=neutral, min_p=min_p)
    return max(found, key=lambda e: e["peak"]) if found else None
