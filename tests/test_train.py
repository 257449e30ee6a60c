"""Training: cross-validated reports, grouped folds for video frames, and `affectscope train`
end to end on generated images and videos (no shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import scale_ratings
from PIL import Image

from affectscope.cli import main
from affectscope.training.features import Features
from affectscope.training.heads import Head, HeadError
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import EMOTION6, PROBABILITY
from affectscope.training.train import _splits, train_head, video_frames_as_stimuli


def _synthetic(n: int = 120, seed: int = 0) -> tuple[Features, Ratings]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    ids = [f"img{i:03d}.png" for i in range(n)]
    val = np.clip(5 + 1.5 * x[:, 0] + 0.3 * rng.normal(size=n), 1, 9)
    aro = np.clip(5 - 1.0 * x[:, 1] + 0.3 * rng.normal(size=n), 1, 9)
    return Features(ids, {"f": x, "g": rng.normal(size=(n, 5))}), scale_ratings(ids, val, aro, name="humans")


def test_train_head_reports_cross_validated_agreement() -> None:
    feats, norms = _synthetic()
    head, report = train_head(feats, norms, columns=["valence", "arousal"], folds=5, n_boot=100)
    scales = report.metrics["scales"]
    assert scales["valence"]["pearson"] > 0.9 and scales["arousal"]["pearson"] > 0.85
    assert scales["valence"]["pearson_lo"] < scales["valence"]["pearson"] < scales["valence"]["pearson_hi"]
    assert report.n_items == 120 and len(report.oof) == 120
    assert head.meta["cv"]["metrics"]["valence"]["pearson"] == pytest.approx(scales["valence"]["pearson"])
    assert "5-fold" in report.summary()


def test_train_head_records_its_training_items_with_out_of_fold_predictions() -> None:
    feats, norms = _synthetic()
    keys = {i: f"sha256:{n:020x}" for n, i in enumerate(feats.item_ids[:100])}  # 20 items without a key
    head, report = train_head(feats, norms, columns=["valence", "arousal"], folds=5, n_boot=10, item_keys=keys)
    assert head.training is not None and len(head.training) == 100
    oof = report.oof.data[["valence", "arousal"]]
    for i in (feats.item_ids[0], feats.item_ids[99]):
        np.testing.assert_allclose(head.training.oof[head.training.row(keys[i])], oof.loc[i].to_numpy())
    # the out-of-fold prediction is not the in-sample one: the final head has seen the item
    first = feats.subset(feats.item_ids[:1]).blocks
    assert not np.allclose(head.predict(first)[0], head.training.oof[0])
    plain, _ = train_head(feats, norms, columns=["valence"], folds=5, n_boot=10)
    assert plain.training is None


def test_train_head_keys_groups_by_video() -> None:
    feats, norms = _synthetic(n=60)
    vids = {i: f"v{n // 3}" for n, i in enumerate(feats.item_ids)}  # 20 videos x 3 frames
    vnorms = scale_ratings(sorted(set(vids.values())), np.linspace(2, 8, 20), name="humans")
    head, report = train_head(feats, vnorms, columns=["valence"], groups=vids, folds=5, n_boot=10,
                              item_keys={v: f"sha256:{v}" for v in set(vids.values())})
    assert head.training is not None and sorted(head.training.keys) == sorted(f"sha256:{v}" for v in set(vids.values()))
    assert head.training.oof[head.training.row("sha256:v3"), 0] == pytest.approx(report.oof.data.loc["v3", "valence"])


def test_train_head_on_noise_reports_no_agreement() -> None:
    """No hard-coded success: features unrelated to the ratings give r near 0."""
    feats, norms = _synthetic()
    rng = np.random.default_rng(5)
    noise = Features(feats.item_ids, {"f": rng.normal(size=(120, 10))})
    _, report = train_head(noise, norms, columns=["valence"], folds=5, n_boot=100)
    assert abs(report.metrics["scales"]["valence"]["pearson"]) < 0.3


def test_train_head_input_errors() -> None:
    feats, norms = _synthetic()
    with pytest.raises(HeadError, match="either"):
        train_head(feats, norms)
    with pytest.raises(HeadError, match="no column"):
        train_head(feats, norms, columns=["dominance"])
    with pytest.raises(HeadError, match="no item"):
        train_head(Features(["other.png"] * 1, {"f": np.zeros((1, 10))}), norms, columns=["valence"])
    with pytest.raises(HeadError, match="too few"):
        train_head(feats.subset(feats.item_ids[:6]), norms, columns=["valence"], folds=10)


def test_distribution_head_training_on_soft_labels() -> None:
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, 6))
    logits = np.zeros((n, 7))
    logits[:, 3] = 2 * x[:, 0]  # joy
    logits[:, 1] = -2 * x[:, 0]  # disgust
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ids = [f"i{i}" for i in range(n)]
    frame = pd.DataFrame(p, columns=list(EMOTION6.columns))
    frame.insert(0, "item_id", ids)
    specs = [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy="emotion6") for c in EMOTION6.columns]
    norms = Ratings(frame, specs, RaterInfo(name="humans"))
    head, report = train_head(Features(ids, {"f": x}), norms, taxonomy="emotion6", folds=5, head_kw={"C": 10.0})
    m = report.metrics["metrics"]
    assert m["accuracy"] > 0.8 and m["js"] < 0.1
    assert head.target == "distribution" and head.outputs == list(EMOTION6.columns)


def test_grouped_folds_never_split_a_group() -> None:
    groups = [f"v{i // 4}" for i in range(80)]  # 20 videos x 4 frames
    for tr, te in _splits(80, 5, groups, seed=0):
        assert not {groups[i] for i in tr} & {groups[i] for i in te}
    with pytest.raises(HeadError, match="too few"):
        _splits(8, 5, groups[:8], seed=0)


# ---- videos -----------------------------------------------------------------------------------
def _video(path: Path, level: int, n: int = 12, fps: int = 12) -> Path:
    from affectscope.media.video import write_video

    frames = []
    for i in range(n):
        arr = np.full((48, 64, 3), level, np.uint8)
        arr[:, : (i * 5) % 64] = 255 - level
        frames.append(arr)
    return write_video(path, frames, fps=fps, codec="mpeg4")


def test_video_frames_become_grouped_items(tmp_path: Path) -> None:
    pytest.importorskip("av")
    vids = [_video(tmp_path / f"clip{i}.mp4", 40 * i) for i in range(3)]
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    st = StimulusSet.from_list(vids + [bad])
    frames, groups, errors = video_frames_as_stimuli(st, 4, tmp_path / "frames", progress=False)
    assert len(frames) == 12 and set(errors) == {"broken.mp4"}
    assert {groups[f.item_id] for f in frames} == {"clip0.mp4", "clip1.mp4", "clip2.mp4"}
    assert all(f.item_id.startswith(groups[f.item_id] + "#") for f in frames)
    # frame indices are the centres of 4 equal segments of 12 frames
    assert sorted(int(f.item_id.split("#")[1]) for f in frames if groups[f.item_id] == "clip0.mp4") == [1, 4, 7, 10]
    again, _, _ = video_frames_as_stimuli(st, 4, tmp_path / "frames", progress=False)  # reused, not re-decoded
    assert [f.path for f in again] == [f.path for f in frames]


@pytest.mark.slow  # trains and rates end to end (~10-15 s); the library steps have their own fast tests
def test_cli_train_on_videos_then_rate_the_videos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Videos with per-video norms: trained on sampled frames (grouped CV), then rated as videos by
    the image rater with the same uniform frames; the training videos are recognised by content and
    ``training_items=cv`` gives their per-video out-of-fold prediction."""
    pytest.importorskip("av")
    folder = tmp_path / "clips"
    folder.mkdir()
    levels = [int(v) for v in np.linspace(20, 235, 12)]
    vids = [_video(folder / f"clip{i:02d}.mp4", lv) for i, lv in enumerate(levels)]
    norms = scale_ratings([v.name for v in vids], [1 + 8 * lv / 255 for lv in levels], name="lab").save(tmp_path / "norms.csv")
    head_path = tmp_path / "video_head.npz"
    assert main(["train", str(norms), str(folder), "--columns", "valence", "--frames", "4", "--folds", "4", "--view", "center",
                 "--n-boot", "50", "--out", str(head_path), "-q"]) == 0
    assert "4-fold cross-validation over 12 items" in capsys.readouterr().out  # scored per video, not per frame
    head = Head.load(head_path)
    assert head.training is not None and len(head.training) == 12  # one key per video file
    rated = {}
    for mode in ("flag", "cv"):
        out = tmp_path / f"{mode}.csv"
        assert main(["rate", str(folder), "--rater", "image", "-p", f'heads=["{head_path}"]', "-p", "k=4",
                     "-p", f"training_items={mode}", "-p", f"series_dir={tmp_path / 'series'}", "--out", str(out), "-q"]) == 0
        rated[mode] = pd.read_csv(out).set_index("item_id")
    flag, cv = rated["flag"], rated["cv"]
    truth = Ratings.load(norms).data["valence"]
    assert (flag["n_frames"] == 4).all() and (flag["training_item"] == "valence").all()
    assert np.corrcoef(flag.loc[truth.index, "valence"], truth)[0, 1] > 0.9
    assert flag["explanation"].str.contains("the video's frames most resemble").all()
    for i, v in enumerate(vids):
        row = head.training.row(Stimulus(v.name, v, "video").signature())
        assert cv.loc[v.name, "valence"] == pytest.approx(head.training.oof[row, 0], abs=1e-9)
    # the rater rated the very frames the head was trained on, and the row is their mean
    frames, _, _ = video_frames_as_stimuli(StimulusSet.from_list(vids[:1]), 4, tmp_path / "frames", progress=False)
    series = pd.read_csv(tmp_path / "series" / "clip00.mp4.csv")
    assert list(series["frame"]) == [int(f.item_id.split("#")[1]) for f in frames]
    assert {"time", "valence", "concept"} <= set(series.columns)
    assert flag.loc["clip00.mp4", "valence"] == pytest.approx(series["valence"].mean(), abs=1e-9)


# ---- the CLI --------------------------------------------------------------------------------------
def _norming_study(folder: Path, n: int = 30) -> Path:
    """Images whose 'valence' is their brightness; a norms CSV with a sidecar."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        level = int(rng.integers(10, 245))
        arr = np.clip(level + rng.normal(0, 20, (60, 80, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"s{i:02d}.jpg")
        rows.append((f"s{i:02d}.jpg", 1 + 8 * level / 255))
    ratings = scale_ratings([r[0] for r in rows], [r[1] for r in rows], name="lab")
    return ratings.save(folder.parent / "norms.csv")


def test_cli_train_then_rate_with_the_trained_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    norms = _norming_study(tmp_path / "stim")
    head_path = tmp_path / "head.npz"
    rc = main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "5", "--view", "center",
               "--n-boot", "100", "--out", str(head_path), "--json", str(tmp_path / "cv.json"), "-q"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "5-fold cross-validation over 30 items" in out
    cv = json.loads((tmp_path / "cv.json").read_text())
    assert cv["metrics"]["scales"]["valence"]["pearson"] > 0.8  # brightness is easy to read from the features
    head = Head.load(head_path)
    assert head.meta["backbone"]["spec"] == "lite0" and head.meta["view"] == "center"
    rc = main(["rate", str(tmp_path / "stim"), "--rater", "image", "-p", f'heads=["{head_path}"]', "-p", "concepts=0",
               "--out", str(tmp_path / "r.csv"), "-q"])
    assert rc == 0
    got = pd.read_csv(tmp_path / "r.csv").set_index("item_id")
    truth = Ratings.load(norms).data["valence"]
    assert np.corrcoef(got.loc[truth.index, "valence"], truth)[0, 1] > 0.9
    # every picture was a training item: flagged, and comparing with the same norms warns
    assert (got["training_item"] == "valence").all()
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "r.csv"), str(norms), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "warning: 30 of 30 compared items were in the training data of the rater's valence model" in out


def test_training_pictures_get_their_cross_validated_ratings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rating a head's own training pictures: flagged by content (a renamed copy too), and with
    training_items=cv given the out-of-fold prediction; new pictures are rated as usual."""
    norms = _norming_study(tmp_path / "stim", n=20)
    head_path = tmp_path / "head.npz"
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "5", "--view", "center",
                 "--n-boot", "10", "--out", str(head_path), "-q"]) == 0
    head = Head.load(head_path)
    assert head.training is not None and len(head.training) == 20
    new = tmp_path / "new"
    new.mkdir()
    (new / "renamed_s03.jpg").write_bytes((tmp_path / "stim" / "s03.jpg").read_bytes())
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(new / "unseen.jpg")
    rated = {}
    for mode in ("flag", "cv"):
        out = tmp_path / f"{mode}.csv"
        assert main(["rate", str(tmp_path / "stim"), str(new), "--rater", "image", "-p", f'heads=["{head_path}"]',
                     "-p", "concepts=0", "-p", f"training_items={mode}", "--out", str(out), "-q"]) == 0
        rated[mode] = pd.read_csv(out).set_index("item_id")
    flag, cv = rated["flag"], rated["cv"]
    assert flag.loc["renamed_s03.jpg", "training_item"] == "valence" and pd.isna(flag.loc["unseen.jpg", "training_item"])
    row = head.training.row(Stimulus("s03.jpg", tmp_path / "stim" / "s03.jpg", "image").signature())
    assert cv.loc["s03.jpg", "valence"] == pytest.approx(head.training.oof[row, 0], abs=1e-9)
    assert cv.loc["renamed_s03.jpg", "valence"] == pytest.approx(head.training.oof[row, 0], abs=1e-9)
    assert cv.loc["s03.jpg", "valence"] != pytest.approx(flag.loc["s03.jpg", "valence"], abs=1e-6)
    assert cv.loc["unseen.jpg", "valence"] == pytest.approx(flag.loc["unseen.jpg", "valence"], abs=1e-9)
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "cv.csv"), str(norms), "--n-boot", "50", "--drop-missing"]) == 0
    out = capsys.readouterr().out
    assert "note: 20 of 20 compared items were in the training data" in out and "warning" not in out
    assert main(["rate", str(new), "--rater", "image", "-p", f'heads=["{head_path}"]', "-p", "training_items=maybe",
                 "--out", str(tmp_path / "bad.csv"), "-q"]) == 2
    assert "training_items must be one of ('flag', 'cv')" in capsys.readouterr().err


def test_cli_train_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    norms = _norming_study(tmp_path / "stim", n=8)
    assert main(["train", str(norms), str(tmp_path / "stim"), "--out", str(tmp_path / "h.npz")]) == 2
    assert "--columns" in capsys.readouterr().err
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--out", str(tmp_path / "h.pkl")]) == 2
    assert ".npz" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (10, 10)).save(other / "zzz.png")
    assert main(["train", str(norms), str(other), "--columns", "valence", "--out", str(tmp_path / "h.npz")]) == 2
    assert "matches" in capsys.readouterr().err


def test_cli_train_on_a_plain_norms_spreadsheet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A lab's norms as a plain CSV (no .meta.json, its own id column): declared on the command line."""
    norms = _norming_study(tmp_path / "stim", n=12)
    plain = tmp_path / "plain.csv"
    pd.read_csv(norms).rename(columns={"item_id": "stimulus"})[["stimulus", "valence"]].to_csv(plain, index=False)
    base = ["train", str(plain), str(tmp_path / "stim"), "--columns", "valence", "--folds", "3", "--view", "center",
            "--n-boot", "50", "--out", str(tmp_path / "h.npz"), "-q"]
    assert main(base) == 2
    assert "command line: --id-column name" in capsys.readouterr().err  # each message shows how to declare
    assert main([*base, "--id-column", "stimulus"]) == 2
    assert "--scale valence=valence:1-7" in capsys.readouterr().err
    assert main([*base, "--scale", "valence=valence:sam9", "--id-column", "stimulus"]) == 0
    assert "3-fold cross-validation over 12 items" in capsys.readouterr().out
    assert Head.load(tmp_path / "h.npz").scales["valence"].name == "sam9"
    assert main([*base, "--scale", "rater:valence=valence:sam9", "--id-column", "stimulus"]) == 2  # not silently ignored
    assert "this command reads one table; drop the 'rater:' prefix" in capsys.readouterr().err


def _face_study(folder: Path, n: int = 20) -> Path:
    """Pictures on smooth backgrounds; half show the smiling astronaut, and people rated those higher."""
    from skimage import data

    folder.mkdir(parents=True)
    face = np.asarray(Image.fromarray(data.astronaut()[20:200, 150:330]).resize((150, 150)))
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        ramp = np.linspace(40 + 5 * i, 200 - 3 * i, 360)[None, :, None]
        img = np.broadcast_to(ramp, (300, 360, 3)).astype(np.uint8).copy()
        has = i % 2 == 0
        if has:
            x, y = 20 + 9 * i, 30 + 4 * (i % 5)
            img[y:y + 150, x:x + 150] = face
        Image.fromarray(img).save(folder / f"f{i:02d}.png")
        rows.append((f"f{i:02d}.png", (7.5 if has else 3.0) + 0.3 * rng.normal()))
    return scale_ratings([r[0] for r in rows], [r[1] for r in rows], name="lab").save(folder.parent / "norms.csv")


def test_cli_train_on_the_face_channel_then_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cv2")
    norms = _face_study(tmp_path / "stim")
    head_path = tmp_path / "faces.npz"
    rc = main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "5", "--backbone", "faces",
               "--n-boot", "50", "--out", str(head_path), "--json", str(tmp_path / "cv.json"), "-q"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert Head.load(head_path).blocks == ["expressions"]  # the channel's own block, not the network's stage names
    assert json.loads((tmp_path / "cv.json").read_text())["metrics"]["scales"]["valence"]["pearson"] > 0.9
    rc = main(["rate", str(tmp_path / "stim"), "--rater", "image", "-p", f'heads=["{head_path}"]', "-p", "concepts=0",
               "--out", str(tmp_path / "r.csv"), "-q"])
    assert rc == 0
    got = pd.read_csv(tmp_path / "r.csv").set_index("item_id")["valence"]
    truth = Ratings.load(norms).data["valence"]
    assert np.corrcoef(got.loc[truth.index], truth)[0, 1] > 0.9


def test_select_blocks_mixes_network_blocks_and_channels() -> None:
    from affectscope.backbones.efficientnet_lite import make_backbone
    from affectscope.training.train import select_blocks

    assert select_blocks(make_backbone("lite0+faces"), ["stage7", "head"]) == ["lite0/stage7", "lite0/head", "faces/expressions"]
    assert select_blocks(make_backbone("lite0"), ["head"]) == ["head"]
    with pytest.raises(ValueError, match="available"):
        select_blocks(make_backbone("lite0+faces"), ["head", "stage9"])


def test_train_settings_errors_name_flags_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#31.7/#28: the library checks the settings once; the CLI says its message with flags."""
    norms = _norming_study(tmp_path / "stim", n=4)
    head_path = tmp_path / "head.npz"
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--stage-weight", "0",
                 "--out", str(head_path)]) == 2
    assert "--n-components must be >= 1 and --stage-weight > 0" in capsys.readouterr().err  # CLI users read flags
    assert main(["train", str(norms), str(tmp_path / "stim"), "--out", str(head_path)]) == 2
    assert "give --columns (rating scales" in capsys.readouterr().err
    assert not head_path.exists()


@pytest.mark.slow  # trains and rates end to end (~10-15 s); the library steps have their own fast tests
def test_cli_train_recipe_shipped_sets_the_default_raters_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--recipe shipped trains like scripts/train_default_heads.py; an explicit flag still wins over the recipe."""
    norms = _norming_study(tmp_path / "stim", n=16)
    head_path = tmp_path / "head.npz"
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "4", "--view", "center",
                 "--recipe", "shipped", "--n-boot", "10", "--out", str(head_path), "-q"]) == 0
    head = Head.load(head_path)
    assert head.meta["backbone"]["spec"] == "lite0+lite1+lite2" and head.meta["model"] == "kernel"
    assert head.meta["recipe"] == "shipped" and head.meta["stage_weight"] == 0.6
    assert head.meta["n_components"] == 15  # 128 asked; at most n_items - 1 with 16 items
    assert "lite2/logits" in head.blocks and "lite0/stage5" in head.blocks
    assert head.blocks[-2:] == ["derived/emotion6", "derived/concept_norms"] and head.meta["derived"] is True
    assert main(["rate", str(tmp_path / "stim"), "--rater", "image", "-p", f'heads=["{head_path}"]', "-p", "concepts=0",
                 "--out", str(tmp_path / "r.csv"), "-q"]) == 0
    assert pd.read_csv(tmp_path / "r.csv")["valence"].notna().all()
    # the derived blocks read the shipped Lite0+1+2 heads: another backbone is told how to train without them
    capsys.readouterr()
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "4", "--view", "center",
                 "--recipe", "shipped", "--backbone", "lite0", "--n-boot", "10", "--out", str(head_path), "-q"]) == 2
    assert "--no-derived" in capsys.readouterr().err
    assert main(["train", str(norms), str(tmp_path / "stim"), "--columns", "valence", "--folds", "4", "--view", "center",
                 "--recipe", "shipped", "--backbone", "lite0", "--model", "linear", "--no-derived", "--n-boot", "10",
                 "--out", str(head_path), "-q"]) == 0
    head = Head.load(head_path)
    assert head.meta["backbone"]["spec"] == "lite0" and head.meta.get("model") != "kernel" and "logits" in head.blocks
    assert not any(b.startswith("derived/") for b in head.blocks)


def test_the_shipped_recipe_is_the_one_the_shipped_heads_were_trained_with() -> None:
    """One recipe, in the library: `affectscope train --recipe shipped` and scripts/train_default_heads.py
    read the same settings, and they are the settings recorded in the shipped heads (the CLI's copy
    used to pool by the mean alone where the heads pool by mean and std)."""
    from importlib import resources

    from affectscope.cli.train import RECIPE_NAMES
    from affectscope.training.train import RECIPES

    assert tuple(RECIPES) == RECIPE_NAMES
    shipped = RECIPES["shipped"]
    heads = sorted((resources.files("affectscope.raters") / "heads").glob("*.npz"))  # type: ignore[attr-defined]
    assert heads
    for path in heads:
        meta = Head.load(path).meta
        assert meta["backbone"] == {"spec": shipped.backbone, "pooling": shipped.pooling}, path.name
        assert meta["view"] == shipped.view, path.name


def test_train_from_norms_is_the_cli_pipeline(tmp_path: Path) -> None:
    """Python users get `affectscope train` as a function: the same head from the same norms."""
    from affectscope.ratings import Ratings
    from affectscope.training.train import train_from_norms

    norms_path = _norming_study(tmp_path / "stim", n=16)
    cli_head = tmp_path / "cli.npz"
    assert main(["train", str(norms_path), str(tmp_path / "stim"), "--columns", "valence", "--folds", "4", "--n-boot", "10",
                 "--out", str(cli_head), "-q"]) == 0
    result = train_from_norms(Ratings.load(norms_path), StimulusSet.from_paths([tmp_path / "stim"]), columns=["valence"],
                              folds=4, n_boot=10, cache=tmp_path / "py.features.sqlite", trained_on=str(norms_path),
                              progress=False)
    assert result.n_matched == result.n_found == 16 and not result.skipped
    a, b = Head.load(cli_head), result.head
    assert a.meta["cv"] == b.meta["cv"]
    with pytest.raises(TypeError, match="unknown settings \\['pool'\\]"):
        train_from_norms(Ratings.load(norms_path), columns=["valence"], pool="mean")
    with pytest.raises(ValueError, match="give columns .* or taxonomy .* one of them"):  # Python users read argument names
        train_from_norms(Ratings.load(norms_path))
    with pytest.raises(ValueError, match=r"^n_components must be >= 1 and stage_weight > 0"):
        train_from_norms(Ratings.load(norms_path), columns=["valence"], stage_weight=0)
