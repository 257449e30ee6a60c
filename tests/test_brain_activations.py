"""Activation export, brain data files, the brain commands and their report (issue #35)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from affectscope.brain.activations import Activations, ActivationsError
from affectscope.brain.brain_data import BrainDataError, load_brain
from affectscope.cli import main


def _acts(n: int = 6) -> Activations:
    rng = np.random.default_rng(0)
    ids = np.array(["v.mp4"] * 3 + [f"p{k}.png" for k in range(n - 3)], dtype=object)
    frame = np.array([0, 12, -1] + [-1] * (n - 3))
    time = np.array([0.0, 0.5, np.nan] + [np.nan] * (n - 3))
    return Activations(ids, frame, time, {"a/b": rng.standard_normal((n, 4)).astype(np.float32),
                                          "c": rng.standard_normal((n, 2)).astype(np.float32)},
                       {"bad.png": "corrupt"}, {"rater": "image"})


@pytest.mark.parametrize("suffix", [".npz", ".parquet", ".h5"])
def test_activations_files_round_trip(tmp_path: Path, suffix: str) -> None:
    a = _acts()
    back = Activations.load(a.save(tmp_path / f"acts{suffix}"))
    assert list(back.item_ids) == list(a.item_ids) and list(back.frame) == list(a.frame)
    np.testing.assert_array_equal(back.time, a.time)
    assert list(back.layers) == ["a/b", "c"] and back.errors == {"bad.png": "corrupt"} and back.meta == {"rater": "image"}
    for k in a.layers:
        np.testing.assert_array_equal(back.layers[k], a.layers[k])
    assert list(back.items().item_ids) == ["v.mp4", "p0.png", "p1.png", "p2.png"]


def test_activations_errors_name_the_fix(tmp_path: Path) -> None:
    a = _acts()
    with pytest.raises(ActivationsError, match=r"\.npz, \.parquet, \.h5"):
        a.save(tmp_path / "acts.csv")
    with pytest.raises(ActivationsError, match="no layer 'x'; these activations have"):
        a.layer("x")
    with pytest.raises(ActivationsError, match="bad.png: corrupt"):
        a.select(["p0.png", "bad.png"])
    (tmp_path / "other.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ActivationsError, match="not an affectscope activations file"):
        Activations.load(tmp_path / "other.npz")


# ---- brain data files -------------------------------------------------------------------------------------
def test_brain_tables_with_repeats_groups_and_rdms(tmp_path: Path) -> None:
    rows = [{"item_id": f"i{k}", "repeat": r, "run": k % 2, "v1": k + r, "v2": 2 * k - r} for r in (0, 1) for k in range(4)]
    pd.DataFrame(rows).to_csv(tmp_path / "b.csv", index=False)
    b = load_brain(tmp_path / "b.csv", group_column="run")
    assert b.item_ids == ["i0", "i1", "i2", "i3"] and b.targets == ["v1", "v2"] and b.repeats.shape == (2, 4, 2)
    np.testing.assert_allclose(b.data[:, 0], np.arange(4) + 0.5)
    assert list(b.columns["run"]) == [0, 1, 0, 1]
    rdm = pd.DataFrame([[0, 1, 2], [1, 0, 3], [2, 3, 0]], columns=["a", "b", "c"])
    rdm.insert(0, "item_id", ["a", "b", "c"])
    rdm.to_csv(tmp_path / "rdm.csv", index=False)
    assert load_brain(tmp_path / "rdm.csv").is_rdm
    np.savez(tmp_path / "b.npz", repeats=np.zeros((3, 5, 2)), item_ids=np.array([f"i{k}" for k in range(5)]))
    assert load_brain(tmp_path / "b.npz").repeats.shape == (3, 5, 2)
    pd.DataFrame([{"item_id": "a", "v": 1}, {"item_id": "a", "v": 2}]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(BrainDataError, match="several rows; add a 'repeat' column"):
        load_brain(tmp_path / "dup.csv")
    pd.DataFrame([{"item_id": "a", "v": 1, "roi": "V1"}]).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(BrainDataError, match=r"columns \['roi'\] are not numeric"):
        load_brain(tmp_path / "text.csv")
    np.savez(tmp_path / "bad.npz", x=np.zeros(3))
    with pytest.raises(BrainDataError, match="holds 'data'"):
        load_brain(tmp_path / "bad.npz")


# ---- extraction through the raters' networks --------------------------------------------------------------
@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    d = tmp_path_factory.mktemp("pics")
    Image.fromarray(data.astronaut()).save(d / "astronaut.png")
    Image.fromarray(data.coffee()).save(d / "coffee.png")
    Image.fromarray(data.astronaut()[30:190, 160:320]).convert("L").resize((48, 48)).save(d / "crop48.png")
    (d / "broken.png").write_bytes(b"not a png")
    return d


def test_image_layers_are_the_raters_own_outputs(pictures: Path, tmp_path: Path) -> None:
    """The heads' layer equals the rater's ratings; the networks' layers equal the backbone's
    features; a broken file is an error, not a row; a rerun reads the cache and recomputes nothing."""
    from affectscope.brain.extract import extract_activations, list_layers
    from affectscope.run.rate import rate
    from affectscope.raters.registry import make_rater
    from affectscope.stimuli import StimulusSet

    stimuli = StimulusSet.from_paths([pictures])
    layers = list_layers("image")
    assert layers["lite0/head"] == 1280 and layers["head/image_valence_sam9"] == 1
    wanted = ["lite0/stage4", "lite2/head", "head/image_valence_sam9", "head/image_basic_emotions"]
    cache = tmp_path / "acts.sqlite"
    acts = extract_activations(stimuli, "image", layers=wanted, cache=cache, progress=False)
    assert set(acts.errors) == {"broken.png"} and "broken.png" not in set(acts.item_ids)
    assert list(acts.layers) == wanted and acts.widths["lite0/stage4"] == layers["lite0/stage4"]
    rated = rate(stimuli, make_rater("image"), progress=False).ratings.data
    for i, item in enumerate(acts.item_ids):
        assert acts.layers["head/image_valence_sam9"][i, 0] == pytest.approx(rated.loc[item, "valence"], abs=1e-4)
    import affectscope.brain.extract as ex

    calls: list[str] = []
    real = ex._Reader.items
    ex._Reader.items = lambda self, batch, k: calls.extend(s.item_id for s in batch) or real(self, batch, k)  # type: ignore[method-assign]
    try:
        again = extract_activations(stimuli, "image", layers=wanted, cache=cache, progress=False)
    finally:
        ex._Reader.items = real  # type: ignore[method-assign]
    assert calls == ["broken.png"]  # only the failed file is tried again
    assert set(again.errors) == {"broken.png"}
    for k in wanted:
        np.testing.assert_array_equal(again.layers[k], acts.layers[k])


def test_face_penultimate_layer_gives_the_raters_probabilities(pictures: Path) -> None:
    import torch

    from affectscope.brain.extract import extract_activations
    from affectscope.faces import ferplus_cnn
    from affectscope.raters.face import FaceRater
    from affectscope.stimuli import StimulusSet

    stimuli = StimulusSet.from_paths([pictures])
    acts = extract_activations(stimuli, "face", progress=False)
    assert acts.errors["coffee.png"] == "no face found" and "broken.png" in acts.errors
    model = ferplus_cnn.load_ferplus_cnn()
    rated = {s.item_id: r for s, r in zip(stimuli, FaceRater().rate_batch(list(stimuli)), strict=True)}
    for i, item in enumerate(acts.item_ids):
        with torch.inference_mode():
            logits = model[-1](torch.from_numpy(acts.layers["ferplus/penultimate"][i:i + 1]))
        probs = torch.softmax(logits, dim=1).numpy()[0]
        np.testing.assert_allclose(probs, acts.layers["ferplus/probabilities"][i], atol=1e-5)
        np.testing.assert_allclose(probs, [rated[item][c] for c in ferplus_cnn.FERPLUS_LABELS], atol=1e-5)


def test_videos_give_frame_rows_and_their_mean(tmp_path: Path) -> None:
    from affectscope.brain.extract import extract_activations
    from affectscope.media.video import write_video
    from affectscope.stimuli import StimulusSet

    rng = np.random.default_rng(0)
    frames = [np.clip(rng.integers(0, 255, (64, 64, 3)) * (k / 20), 0, 255).astype(np.uint8) for k in range(20)]
    clip = write_video(tmp_path / "clip.mp4", frames, fps=10, codec="mpeg4")
    acts = extract_activations(StimulusSet.from_paths([clip]), "image", layers=["lite0/stage3"], frames=4, progress=False)
    assert list(acts.frame) == [2, 7, 12, 17, -1]
    assert np.isnan(acts.time[-1]) and acts.time[0] == pytest.approx(0.2)
    np.testing.assert_allclose(acts.layers["lite0/stage3"][-1], acts.layers["lite0/stage3"][:-1].mean(axis=0), atol=1e-6)


# ---- the commands -------------------------------------------------------------------------------------------
def test_features_encode_rsa_commands_end_to_end(pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--list-layers", "--rater", "face"]) == 0
    assert "ferplus/penultimate\t128" in capsys.readouterr().out
    out = tmp_path / "acts.parquet"
    code = main(["features", str(pictures), "--layers", "lite0/stage3,lite0/head", "-o", str(out), "-q"])
    assert code == 3  # broken.png: written, and said
    err = capsys.readouterr().err
    assert "1 item(s) gave no activations" in err and "broken.png" in err
    acts = Activations.load(out)
    ids = list(acts.items().item_ids)
    x = acts.items().layer("lite0/stage3")
    rng = np.random.default_rng(0)
    rows = [{"item_id": i, "repeat": r, **{f"v{j}": float(x[k] @ rng.standard_normal(x.shape[1]) + rng.standard_normal())
                                              for j in range(3)}} for r in (0, 1) for k, i in enumerate(ids)]
    pd.DataFrame(rows).to_csv(tmp_path / "brain.csv", index=False)
    code = main(["encode", str(out), str(tmp_path / "brain.csv"), "--cv", "3", "--n-perm", "20", "-o", str(tmp_path / "enc.json"),
                 "--table", str(tmp_path / "enc.csv"), "--report", str(tmp_path / "enc.html")])
    assert code == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "enc.json").read_text())
    assert set(res["layers"]) == {"lite0/stage3", "lite0/head"} and len(res["layers"]["lite0/head"]["r"]) == 3
    assert res["layers"]["lite0/head"]["ceiling"] is not None
    assert set(pd.read_csv(tmp_path / "enc.csv")["layer"]) == {"lite0/stage3", "lite0/head"}
    html = (tmp_path / "enc.html").read_text()
    assert "Encoding models, one per layer" in html and "data:image/png;base64," in html
    code = main(["rsa", str(out), str(tmp_path / "brain.csv"), "--n-perm", "20", "-o", str(tmp_path / "rsa.json"),
                 "--report", str(tmp_path / "rsa.html")])
    assert code == 0 and set(json.loads((tmp_path / "rsa.json").read_text())) == {"lite0/stage3", "lite0/head"}
    assert "RSA with the brain, per layer" in (tmp_path / "rsa.html").read_text()
    capsys.readouterr()
    assert main(["encode", str(out), str(tmp_path / "brain.csv"), "--banded", "--layers", "lite0/head"]) == 2
    assert "--banded needs two or more --layers" in capsys.readouterr().err
    assert main(["features", str(pictures), "--rater", "image", "--layers", "nope", "-o", str(tmp_path / "x.npz")]) == 2
    assert "unknown layers ['nope']" in capsys.readouterr().err


def test_displays_draw_each_layer(tmp_path: Path) -> None:
    from affectscope.brain.encoding import compare_layers, fit_encoding
    from affectscope.report.brain_page import BandWeightsDisplay, LayerEncodingDisplay

    rng = np.random.default_rng(0)
    xs = {"a": rng.standard_normal((60, 5)), "b": rng.standard_normal((60, 7))}
    y = xs["a"] @ rng.standard_normal((5, 4)) + rng.standard_normal((60, 4))
    reps = np.stack([y + rng.standard_normal(y.shape), y + rng.standard_normal(y.shape)])
    per = compare_layers(xs, reps.mean(0), repeats=reps, cv=3, n_perm=0)
    d = LayerEncodingDisplay.from_results(per).plot()
    assert [t.get_text() for t in d.ax_.get_xticklabels()] == ["a", "b"] and np.isfinite(d.ceiling)
    assert d.median[0] == pytest.approx(np.median(per["a"].r))
    assert LayerEncodingDisplay.from_results(per, normalised=True).plot().normalised
    b = BandWeightsDisplay.from_result(fit_encoding(xs, y, cv=3, n_perm=0)).plot()
    assert b.shares.sum() == pytest.approx(1.0) and b.shares[0] > b.shares[1]


def test_brain_rows_without_ids_must_match_the_activations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from affectscope.brain.brain_data import BrainData

    data = BrainData(None, np.zeros((7, 3)), None, ["a", "b", "c"])
    assert data.item_order([f"i{k}" for k in range(7)]) == [f"i{k}" for k in range(7)]
    with pytest.raises(BrainDataError, match="7 rows and no item ids, the activations 40 items"):
        data.item_order([f"i{k}" for k in range(40)])
    _acts(6).save(tmp_path / "acts.npz")
    np.save(tmp_path / "bad.npy", np.zeros((7, 3)))
    for cmd in ("encode", "rsa"):
        assert main([cmd, str(tmp_path / "acts.npz"), str(tmp_path / "bad.npy"), "-o", str(tmp_path / "o.json")]) == 2
        assert "7 rows and no item ids, the activations 4 items" in capsys.readouterr().err
