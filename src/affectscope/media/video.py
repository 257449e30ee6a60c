"""Video decoding with PyAV: frame-exact uniform sampling (the faces/video module builds on it).

Frames are decoded in order and the ones whose index is wanted are kept, so the index of every
returned frame is exact (no seek-to-keyframe drift). Frames come upright: a clip whose container
says to rotate it for display (phones store portrait clips as landscape frames plus a display
matrix) is rotated the way players show it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from affectscope._files import file_problem

if TYPE_CHECKING:
    import pandas as pd

from affectscope.media.image import MediaError
from affectscope._install import INSTALL


@dataclass(frozen=True)
class Frame:
    """A decoded frame: its index in the stream, time in seconds, and RGB pixels."""

    index: int
    time: float
    rgb: np.ndarray


def _open(path: Path):  # noqa: ANN202 - av container
    try:
        import av
    except ImportError:
        raise MediaError(path, "video support needs PyAV", INSTALL["core"]) from None
    problem = file_problem(path)
    if problem is not None:
        raise MediaError(path, *problem)
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes): there is no video in it", "re-copy or re-export the video; the file has no data")
    try:
        return av.open(str(path))
    except Exception as exc:  # noqa: BLE001 - av raises many types
        raise MediaError(path, f"cannot open as video ({type(exc).__name__}: {exc})", "re-encode it as H.264 MP4") from None


#: Decoded frame counts by (resolved path, size, mtime): a file is counted by decoding once.
_DECODED: dict[tuple[str, int, int], int] = {}


def _file_key(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)


def count_frames(path: str | os.PathLike[str]) -> int:
    """Number of frames, by decoding (exact even when the container's count is missing or wrong);
    remembered per file content, so a second call (or one after :func:`iter_frames` read the whole
    clip) costs nothing."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream", "pass a video file")
        key = _file_key(path)
        if key not in _DECODED:
            n = 0
            try:
                for _ in c.decode(video=0):
                    n += 1
            except Exception:  # noqa: BLE001 - a damaged tail: the frames before it are the clip's decodable part
                pass
            _DECODED[key] = n
        return _DECODED[key]


def declared_frames(path: str | os.PathLike[str]) -> int:
    """The frame count the container declares (its index, else duration x frame rate; 0 when it
    says neither), read without decoding."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream", "pass a video file")
        stream = c.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        if stream.duration and stream.time_base:
            return int(round(float(stream.duration * stream.time_base) * rate))
        if c.duration:
            return int(round(c.duration / 1_000_000 * rate))
        return 0


def truncation_warning(path: str | os.PathLike[str], decoded: int | None = None) -> str | None:
    """A warning when fewer frames decode than the container declares (a truncated or damaged
    file), ``None`` otherwise. ``decoded`` defaults to :func:`count_frames`."""
    declared = declared_frames(path)
    got = count_frames(path) if decoded is None else int(decoded)
    if declared > 0 and got < 0.95 * declared and declared - got >= 2:
        return (f"truncated or damaged video: {got} of the {declared} frames its container declares could be decoded, "
                "and the rating uses only those. Fix: re-download or re-encode the file")
    return None


def sample_uniform(path: str | os.PathLike[str], k: int, *, max_side: int | None = 512) -> list[Frame]:
    """``k`` frames evenly spaced over the clip (the centres of ``k`` equal segments)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    path = Path(path)
    n = count_frames(path)
    if n == 0:
        raise MediaError(path, "the video has no decodable frames", "re-encode it")
    return read_frames(path, uniform_indices(n, k), max_side=max_side)


def uniform_indices(n: int, k: int) -> list[int]:
    """Indices of ``k`` frames evenly spaced over ``n`` (the centres of ``k`` equal segments; fewer when k > n)."""
    return sorted({min(n - 1, int((i + 0.5) * n / k)) for i in range(k)})


def _upright(frame, rgb: np.ndarray) -> np.ndarray:  # noqa: ANN001 - av frame
    """``rgb`` turned the way players show the frame: by the display matrix's rotation (PyAV's
    ``frame.rotation``, degrees counter-clockwise; phones write -90 for a portrait clip)."""
    k = int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _frame_time(frame, index: int, tb: float, fps: float) -> float:  # noqa: ANN001 - av frame
    """Presentation time in seconds (from pts, else from the index and frame rate)."""
    if frame.pts is not None and tb:
        return float(frame.pts * tb)
    return index / fps if fps else float(index)


def read_frames(path: str | os.PathLike[str], indices: list[int], *, max_side: int | None = 512) -> list[Frame]:
    """The frames with the given 0-based indices, in increasing order."""
    path = Path(path)
    want = set(indices)
    out: list[Frame] = []
    with _open(path) as c:
        stream = c.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else 0.0
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        for i, frame in enumerate(c.decode(video=0)):
            if i in want:
                img = frame.to_image()
                if max_side and max(img.size) > max_side:
                    img.thumbnail((max_side, max_side))
                out.append(Frame(i, _frame_time(frame, i, tb, fps), _upright(frame, np.asarray(img.convert("RGB")))))
                if len(out) == len(want):
                    break
    return out


def iter_frames(path: str | os.PathLike[str], *, max_side: int | None = 640) -> Iterator[tuple[Frame, float]]:
    """Every frame of the video in order (downscaled so the longer side is at most ``max_side``),
    with the stream's frame rate."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream", "pass a video file")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 0.0
        fps = float(stream.average_rate) if stream.average_rate else 25.0
        n = 0
        frames = c.decode(video=0)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - a damaged tail ends the clip; truncation_warning says so
                break
            i, n = n, n + 1
            t = _frame_time(frame, i, tb, fps)
            small = frame
            if max_side and max(frame.width, frame.height) > max_side:
                s = max_side / max(frame.width, frame.height)
                small = frame.reformat(width=int(frame.width * s) // 2 * 2, height=int(frame.height * s) // 2 * 2)
            yield Frame(i, t, _upright(frame, small.to_ndarray(format="rgb24"))), fps
        _DECODED[_file_key(path)] = n


def middle_frame(path: str | os.PathLike[str], *, max_side: int | None = 160) -> Frame:
    """A representative frame for thumbnails: the middle one by the container's frame count
    (the first frame when the container does not say), upright, decoded without counting frames."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream", "pass a video file")
        stream = c.streams.video[0]
        target = max(0, int(stream.frames or 0) // 2)
    frames = read_frames(path, [target], max_side=max_side)
    if not frames:  # the container over-counted: fall back to the first frame
        frames = read_frames(path, [0], max_side=max_side)
    if not frames:
        raise MediaError(path, "the video has no decodable frames", "re-encode it as H.264 MP4")
    return frames[0]


def series_file(folder: str | os.PathLike[str], item_id: str) -> Path:
    """Where a rater's per-frame series of video ``item_id`` lives in ``folder`` (``series_dir``):
    ``<folder>/<item_id>.csv`` with ``/`` in the id written ``__``, so ids from sub-folders stay one file."""
    return Path(folder) / (str(item_id).replace("/", "__") + ".csv")


def write_series(folder: str | os.PathLike[str], item_id: str, series: pd.DataFrame) -> Path:
    """Write a per-frame series to :func:`series_file` (creating ``folder``)."""
    path = series_file(folder, item_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    series.to_csv(path, index=False)
    return path


def video_fps(path: str | os.PathLike[str]) -> float:
    """The stream's average frame rate (0.0 when the container does not say)."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(path, "no video stream", "pass a video file")
        rate = c.streams.video[0].average_rate
        return float(rate) if rate else 0.0


def write_video(path: str | os.PathLike[str], frames: "list[np.ndarray]", *, fps: int = 25, codec: str = "libx264",
                crf: int | None = None, index_first: bool = False) -> Path:
    """Encode RGB frames (``(H, W, 3)`` uint8, even sides) as a video (synthetic clips for tests and
    benches). ``index_first`` writes an MP4's index before the data (``movflags=faststart``), so a
    copy cut short still opens and decodes up to the cut (truncated-file tests)."""
    import av

    path = Path(path)
    with av.open(str(path), "w", options={"movflags": "faststart"} if index_first else None) as c:
        s = c.add_stream(codec, rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        if crf is not None:
            s.options = {"crf": str(crf)}
        for arr in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path
