"""Video decoding: frames come upright when the container carries a display rotation (phone clips)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from affectscope.media.video import iter_frames, read_frames, sample_uniform, write_video  # noqa: E402


def _rotated_copy(src: Path, dst: Path) -> Path:
    """``src`` with the track header's matrix set to what phones write for a portrait clip stored
    as landscape frames (``rotate=90``: players turn each frame 90 degrees clockwise)."""
    data = bytearray(src.read_bytes())
    box = data.find(b"tkhd") - 4
    assert box >= 0 and data[box + 8] == 0, "expected a version-0 tkhd box"
    matrix_at = box + 48  # size, type, version/flags, 5 x 32-bit fields, 8 reserved, 4 x 16-bit fields
    assert struct.unpack(">9i", data[matrix_at:matrix_at + 36]) == (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    frames = []
    for _ in range(6):
        arr = np.zeros((64, 96, 3), np.uint8)
        arr[:, :16] = 255  # a white bar at the left edge of the stored frame
        frames.append(arr)
    plain = write_video(tmp_path / "plain.mp4", frames, fps=6)
    return plain, _rotated_copy(plain, tmp_path / "portrait.mp4")


def test_frames_of_a_rotated_clip_come_upright(clips: tuple[Path, Path]) -> None:
    plain, portrait = clips
    for frame in (read_frames(plain, [2])[0], next(iter_frames(plain))[0], sample_uniform(plain, 1)[0]):
        assert frame.rgb.shape[:2] == (64, 96)
        assert frame.rgb[:, :10].mean() > 200 and frame.rgb[:, 30:].mean() < 30
    for frame in (read_frames(portrait, [2])[0], next(iter_frames(portrait))[0], sample_uniform(portrait, 1)[0]):
        # turned 90 degrees clockwise, as players show it: portrait, and the left edge is now the top
        assert frame.rgb.shape[:2] == (96, 64)
        assert frame.rgb[:10].mean() > 200 and frame.rgb[30:].mean() < 30
        assert frame.rgb.flags["C_CONTIGUOUS"]


def test_downscaled_frames_of_a_rotated_clip_keep_the_rotation(clips: tuple[Path, Path]) -> None:
    _, portrait = clips
    frame = next(iter_frames(portrait, max_side=48))[0]
    assert frame.rgb.shape[:2] == (48, 32) and frame.rgb[:4].mean() > 200
    (small,) = read_frames(portrait, [0], max_side=48)
    assert small.rgb.shape[:2] == (48, 32) and small.rgb[:4].mean() > 200


def test_middle_frame_is_the_middle_one_and_upright(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    from affectscope.media.video import middle_frame

    frames = [np.full((32, 48, 3), 20 * i, np.uint8) for i in range(9)]
    clip = write_video(tmp_path / "ramp.mp4", frames, fps=9)
    mid = middle_frame(clip)
    assert mid.index == 4 and abs(float(mid.rgb.mean()) - 80) < 8
    assert middle_frame(clips[1]).rgb.shape[:2] == (96, 64)  # the portrait clip, upright
