"""The default image rater on videos: frame sampling, frame means, per-frame series, bad clips,
bad parameters, and the report's time-series section for its series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("av")

from affectscope.cli import main  # noqa: E402
from affectscope.media.video import write_video  # noqa: E402
from affectscope.raters.base import ItemError  # noqa: E402
from affectscope.raters.image import ImageRater  # noqa: E402
from affectscope.stimuli import StimulusSet  # noqa: E402


def _clip(path: Path, n: int = 30, fps: int = 10) -> Path:
    """A 3 s clip: dark for the first half, then a bright red field."""
    frames = []
    for i in range(n):
        arr = np.full((64, 96, 3), 30, np.uint8)
        if i >= n // 2:
            arr[..., 0] = 230
        frames.append(arr)
    return write_video(path, frames, fps=fps, codec="mpeg4")


def test_video_rows_are_frame_means_over_the_sampled_frames(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "clip.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    rater = ImageRater(sampling="fps", fps=2.0, concepts=2, series_dir=str(tmp_path / "series"))
    out = rater.rate_batch(list(StimulusSet.from_list([clip, broken])))
    assert isinstance(out[1], ItemError) and out[1].item_id == "broken.mp4" and "re-encode" in out[1].message
    row = out[0]
    assert isinstance(row, dict)
    series = pd.read_csv(tmp_path / "series" / "clip.mp4.csv")
    # 2 frames per second over 3 s: the first frame of every half second
    assert list(series["frame"]) == [0, 5, 10, 15, 20, 25] and row["n_frames"] == 6
    assert series["time"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    for c in ("valence", "arousal", "joy", "neutral"):
        assert row[c] == pytest.approx(series[c].mean(), abs=1e-9)
    # the two halves differ, so the frames were rated one by one, not one frame copied
    assert series["valence"].iloc[:3].std() < 1e-6 and abs(series["valence"].iloc[0] - series["valence"].iloc[-1]) > 1e-3
    assert len(row["concepts"].split("; ")) == 2 and row["explanation"].startswith("Likely")
    assert "the video's frames most resemble" in row["explanation"]
    assert set(row) == {c.name for c in rater.outputs()}
    # one item at a time, through the contract's rate_safely: the same row; a broken clip is an ItemError
    again = rater.rate_safely(StimulusSet.from_list([clip])[0])
    assert isinstance(again, dict) and again["valence"] == pytest.approx(row["valence"], abs=1e-9)
    assert isinstance(rater.rate_safely(StimulusSet.from_list([broken])[0]), ItemError)


def test_uniform_sampling_takes_k_frames_and_long_clips_are_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import affectscope.raters.image as image

    clip = _clip(tmp_path / "clip.mp4", n=40)
    monkeypatch.setattr(image, "FRAME_CHUNK", 3)  # 7 frames in chunks of 3, 3 and 1
    chunked = ImageRater(k=7, concepts=0, explain=False, series_dir=str(tmp_path / "a")).rate_batch(list(StimulusSet.from_list([clip])))[0]
    monkeypatch.setattr(image, "FRAME_CHUNK", 16)
    whole = ImageRater(k=7, concepts=0, explain=False, series_dir=str(tmp_path / "b")).rate_batch(list(StimulusSet.from_list([clip])))[0]
    assert isinstance(chunked, dict) and isinstance(whole, dict) and chunked["n_frames"] == 7
    a, b = pd.read_csv(tmp_path / "a" / "clip.mp4.csv"), pd.read_csv(tmp_path / "b" / "clip.mp4.csv")
    assert list(a["frame"]) == [2, 8, 14, 20, 25, 31, 37]  # centres of 7 equal segments of 40 frames
    assert np.allclose(a["valence"], b["valence"], atol=1e-4) and chunked["valence"] == pytest.approx(whole["valence"], abs=1e-4)


@pytest.mark.parametrize(("params", "message"), [
    ({"sampling": "dense"}, "sampling must be one of"),
    ({"k": 0}, "k must be a whole number >= 1, got 0"),
    ({"fps": 0}, "fps must be a number > 0, got 0"),
])
def test_bad_video_parameters_say_what_is_valid(params: dict, message: str) -> None:
    from affectscope.raters.registry import make_rater

    with pytest.raises(ValueError, match=message):
        make_rater("image", **params)
    with pytest.raises(ValueError, match=message):  # built directly: checked before the first output
        ImageRater(**params).outputs()


def test_report_plots_the_image_rater_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = _clip(tmp_path / "clip.mp4")
    out = tmp_path / "r.csv"
    assert main(["rate", str(clip), "-p", "k=4", "-p", f"series_dir={tmp_path / 'series'}", "--out", str(out), "-q"]) == 0
    html_path = tmp_path / "report.html"
    assert main(["report", str(out), "--series", str(tmp_path / "series"), "-o", str(html_path)]) == 0
    html = html_path.read_text()
    assert "Videos: ratings over time" in html
    assert 'alt="time series clip.mp4"' in html and 'alt="scales over time clip.mp4"' in html
    assert 'alt="keyframe"' in html
