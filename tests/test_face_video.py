"""Face video: sampling strategies, per-frame series, episodes, and the face rater on clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("av")

from affectscope.faces.video import SamplingSpec, aggregate, frame_series, strongest_episode  # noqa: E402
from affectscope.media.video import write_video  # noqa: E402

LABELS = ["neutral", "happiness", "surprise"]


def burst_clip(path: Path, start: int, length: int, n: int = 90, seed: int = 0) -> Path:
    """Dark 'neutral' frames with a bright 'surprise' burst of ``length`` frames, plus noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        base = 200 if start <= i < start + length else 60
        frames.append(np.clip(base + rng.normal(0, 3, (64, 64, 3)), 0, 255).astype(np.uint8))
    return write_video(path, frames, fps=30, crf=12)


class BrightnessRater:
    """Stands in for the face model: bright frames are 'surprise', dark ones 'neutral'."""

    def __init__(self) -> None:
        self.calls = 0

    def rate_array(self, rgb: np.ndarray) -> dict[str, float]:
        self.calls += 1
        b = float(rgb.mean()) / 255
        return {"n_faces": 1.0, "neutral": 1 - b, "happiness": 0.0, "surprise": b, "faces": "[]"}


@pytest.mark.parametrize("start", [5, 23, 47, 71])
def test_change_aware_sampling_catches_a_short_burst_with_few_frames(tmp_path: Path, start: int) -> None:
    clip = burst_clip(tmp_path / "c.mp4", start, 8)  # 8 frames = 0.27 s at 30 fps
    rater = BrightnessRater()
    series, n_decoded = frame_series(clip, rater, SamplingSpec("change", base_fps=1.0))
    assert n_decoded == 90
    inside = series["frame"].between(start, start + 7)
    assert inside.any(), "the burst must be processed"
    assert len(series) <= 3 + 2 + 2  # the 1 fps base (3 s) + burst onset and offset (+ slack)
    ep = strongest_episode(series, LABELS)
    assert ep is not None and ep["label"] == "surprise"
    assert abs(ep["onset"] - start / 30) < 0.05


def test_uniform_sampling_misses_bursts_that_fall_between_samples(tmp_path: Path) -> None:
    # uniform-4 over 90 frames samples frames 11, 33, 56, 78: a burst at 14-21 is never seen
    clip = burst_clip(tmp_path / "c.mp4", 14, 8)
    series, _ = frame_series(clip, BrightnessRater(), SamplingSpec("uniform", k=4))
    assert list(series["frame"]) == [11, 33, 56, 78]
    assert strongest_episode(series, LABELS) is None
    dense, _ = frame_series(clip, BrightnessRater(), SamplingSpec("fps", fps=30))
    assert len(dense) == 90


def test_fixed_rate_sampling_spacing(tmp_path: Path) -> None:
    clip = burst_clip(tmp_path / "c.mp4", 40, 8)
    series, _ = frame_series(clip, BrightnessRater(), SamplingSpec("fps", fps=4))
    gaps = np.diff(series["time"].to_numpy())
    assert len(series) == 12 and np.allclose(gaps, gaps[0], atol=0.04) and abs(gaps[0] - 0.25) < 0.04


def test_aggregate_and_episode() -> None:
    s = pd.DataFrame({"time": [0.0, 0.25, 0.5, 0.75, 1.0], "neutral": [0.9, 0.2, 0.1, 0.3, 0.9],
                      "happiness": [0.05, 0.0, 0.0, 0.0, 0.05], "surprise": [0.05, 0.8, 0.9, 0.7, 0.05]})
    out = aggregate(s, LABELS)
    assert out["surprise"] == pytest.approx(s["surprise"].mean())
    assert out["episode"] == "surprise 0.25-0.75 s (peak 0.90 at 0.50 s)"
    assert aggregate(s.iloc[[0, 4]], LABELS)["episode"] == ""


def test_bad_sampling_option_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="uniform.*fps.*change.*sparse"):
        SamplingSpec("sparse")


def test_face_rater_rates_a_clip_and_writes_its_series(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    from affectscope.raters.registry import make_rater
    from affectscope.run.rate import rate
    from affectscope.stimuli import StimulusSet

    clip = burst_clip(tmp_path / "clip.mp4", 30, 10)  # 64x64 frames: taken as a whole face
    rater = make_rater("face", sampling="fps", fps=4, series_dir=str(tmp_path / "series"))
    result = rate(StimulusSet.from_paths([clip]), rater, progress=False)
    row = result.ratings.to_frame().iloc[0]
    assert row["error"] is None or pd.isna(row["error"])
    assert row["n_frames"] == 12 and row["n_faces"] == 1
    probs = row[["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]].astype(float)
    assert abs(probs.sum() - 1) < 1e-4
    series = pd.read_csv(tmp_path / "series" / "clip.mp4.csv")
    assert len(series) == 12 and {"frame", "time", "neutral", "contempt"} <= set(series.columns)
    assert len(json.loads(row["faces"])) == 12


@pytest.mark.parametrize("strategy", ["change", "fps"])
def test_a_videos_frames_are_classified_in_batches_with_the_per_frame_results(tmp_path: Path, strategy: str) -> None:
    """#36: the face pipeline detects on each processed frame and classifies all their faces
    together after the last one; the frames chosen and every value equal the frame-by-frame path."""
    pytest.importorskip("cv2")
    from affectscope.faces.pipeline import FacePipeline

    clip = burst_clip(tmp_path / "clip.mp4", 30, 10)
    pipe = FacePipeline()

    class OneByOne:  # only rate_array: frame by frame, as before
        def rate_array(self, rgb: np.ndarray) -> dict:
            return pipe.rate_array(rgb)

    spec = SamplingSpec(strategy=strategy, fps=8.0)
    batched, n1 = frame_series(clip, pipe, spec)
    alone, n2 = frame_series(clip, OneByOne(), spec)
    assert n1 == n2 and list(batched["frame"]) == list(alone["frame"]) and len(batched) >= 4
    numeric = [c for c in alone.columns if c != "faces"]
    np.testing.assert_allclose(batched[numeric].to_numpy(float), alone[numeric].to_numpy(float), atol=1e-5)
