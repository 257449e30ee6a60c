"""Context enrichment for videos (issue #29, points 2 and 3): the frames between keyframes are
chosen change-aware, so a 0.23 s expression reaches the text; each sentence says how many real
frames it covers; and without the face model (no OpenCV) videos still go, described by brightness
and motion, with a warning instead of an error per video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from affectscope.llm import media
from affectscope.llm.loopback import LoopbackServer
from affectscope.raters.base import Flagged, ItemError
from affectscope.raters.registry import make_rater
from affectscope.stimuli import StimulusSet

pytest.importorskip("av")

LABELS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
FPS, N, BURST = 30, 90, range(41, 48)  # 7 frames = 0.23 s, between two frames of a 4-per-second grid (40, 48)


class _BrightFace:
    """A stand-in face model: 'surprise' on the bright burst frames, 'neutral' otherwise."""

    def rate_array(self, rgb: np.ndarray) -> dict:
        p = np.full(len(LABELS), 0.01)
        p[2 if rgb.mean() > 100 else 0] = 0.93
        return {**dict(zip(LABELS, p.tolist())), "faces": "[]"}


def _clip(path: Path) -> Path:
    from affectscope.media.video import write_video

    rng = np.random.default_rng(0)
    frames = [np.clip((150 if i in BURST else 60) + rng.normal(0, 2, (48, 64, 3)), 0, 255).astype(np.uint8) for i in range(N)]
    return write_video(path, frames, fps=FPS, crf=10)


@pytest.fixture
def fake_faces(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(media, "_FACE_MODEL", [(_BrightFace(), LABELS, None)])


def _texts(parts: list[dict]) -> list[str]:
    return [p["text"] for p in parts if p["type"] == "text"]


def test_a_short_expression_between_keyframes_reaches_the_text(tmp_path: Path, fake_faces: None) -> None:
    path = _clip(tmp_path / "c.mp4")
    parts = media.video_content(path, keyframes=3, max_side=64, context=True)
    gaps = [t for t in _texts(parts) if t.startswith("Between")]
    hit = [t for t in gaps if "surprise at" in t]
    assert len(hit) == 1 and "surprise at 1.37" in hit[0]
    # each sentence counts the real frames it covers (keyframes 15, 45, 75 of 90 frames)
    assert [g.split("(")[1].split(" frames")[0] for g in gaps] == ["15", "29", "29", "14"]
    analysed = sum(int(g.split("not shown, ")[1].split(" analysed")[0]) for g in gaps)
    assert analysed <= N // 10  # a tenth of the frames or fewer


def test_the_old_fixed_grid_misses_it(tmp_path: Path, fake_faces: None) -> None:
    from affectscope.faces.video import SamplingSpec

    path = _clip(tmp_path / "c.mp4")
    parts = media.video_content(path, keyframes=3, max_side=64, context=True, sampling=SamplingSpec("fps", fps=4))
    assert not any("surprise" in t for t in _texts(parts))


def test_without_the_face_model_videos_are_rated_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from affectscope.faces.pipeline import FacePipeline

    def no_opencv(self, rgb):  # noqa: ANN001, ANN202
        raise ImportError("face detection needs OpenCV: pip install 'affectscope[faces]'")

    monkeypatch.setattr(media, "_FACE_MODEL", [])
    monkeypatch.setattr(FacePipeline, "rate_array", no_opencv)
    path = _clip(tmp_path / "c.mp4")
    with LoopbackServer() as srv:
        rater = make_rater("llm", base_url=srv.url, model="loopback", cache="none", max_retries=0, keyframes=3)
        res = rater.rate_batch(list(StimulusSet.from_list([path])))[0]
        sent = srv.requests[-1]["messages"][1]["content"]
    assert not isinstance(res, ItemError), res
    assert isinstance(res, Flagged) and "no facial-expression evidence" in res.warning and not res.retry
    gaps = [t for t in _texts(sent) if t.startswith("Between")]
    assert gaps and not any("face" in g for g in gaps) and any("brighter" in g or "darker" in g for g in gaps)
