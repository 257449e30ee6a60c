"""Backbones: the weights table and its checked download, EfficientNet-Lite known answers, the
feature cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import make_bad_files, make_good_images
from skimage import data

from affectscope.backbones import WEIGHTS, WeightsError, download, resolve_weights
from affectscope.backbones.base import fit_square
from affectscope.backbones.efficientnet_lite import EfficientNetLite, make_backbone
from affectscope.training.features import extract_features
from affectscope.raters.image import imagenet_labels
from affectscope.stimuli import StimulusSet


# ---- weights table and download ------------------------------------------------------------
def _blob(tmp_path: Path) -> tuple[Path, str]:
    src = tmp_path / "src" / "weights.bin"
    src.parent.mkdir()
    src.write_bytes(b"not really weights " * 1000)
    return src, hashlib.sha256(src.read_bytes()).hexdigest()


def test_download_verifies_checksum_and_writes_atomically(tmp_path: Path) -> None:
    src, digest = _blob(tmp_path)
    dest = tmp_path / "cache" / "w.bin"
    got = download(src.as_uri(), dest, digest, progress=False)
    assert got == dest and dest.read_bytes() == src.read_bytes()
    assert not list(dest.parent.glob("*.part"))


def test_download_with_wrong_checksum_leaves_nothing(tmp_path: Path) -> None:
    src, _ = _blob(tmp_path)
    dest = tmp_path / "cache" / "w.bin"
    with pytest.raises(WeightsError, match="expected"):
        download(src.as_uri(), dest, "0" * 64, progress=False)
    assert not dest.exists() and not list(dest.parent.glob("*"))


def test_download_failure_is_a_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="download failed"):
        download((tmp_path / "missing.bin").as_uri(), tmp_path / "w.bin", "0" * 64, progress=False)


def test_installed_weights_resolve_and_match_the_table() -> None:
    for name in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"):
        p = resolve_weights(name)
        assert p.is_file() and p.name == Path(WEIGHTS[name].filename).name


def test_resolve_weights_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="valid"):
        resolve_weights("resnet-9000")
    bad = tmp_path / "w.pth"
    bad.write_bytes(b"junk")
    with pytest.raises(WeightsError, match="checksum mismatch"):
        resolve_weights("efficientnet-lite0", bad)


# ---- EfficientNet-Lite -----------------------------------------------------------------------
def test_lite0_recognises_known_photos() -> None:
    """ImageNet known answers: a cat photo is a cat class (281-285), a coffee photo is espresso."""
    b = EfficientNetLite("lite0")
    logits = b.embed([data.chelsea(), data.coffee()], view="center")["logits"]
    top = logits.argmax(axis=1)
    assert 281 <= top[0] <= 285
    assert top[1] == 967
    labels = imagenet_labels()
    assert len(labels) == 1000 and labels[967] == "espresso"


def test_multi_depth_blocks_and_views() -> None:
    b = EfficientNetLite("lite0")
    widths = b.blocks()
    assert list(widths) == ["stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head", "logits"]
    assert widths["head"] == 1280 and widths["logits"] == 1000
    img = data.astronaut()
    one = b.embed([img], view="full")
    both = b.embed([img], view="full+flip")
    mirrored = b.embed([img[:, ::-1].copy()], view="full")
    for k, w in widths.items():
        assert one[k].shape == (1, w)
    # the flip view is the mean of the picture and its mirror image
    np.testing.assert_allclose(both["head"], (one["head"] + mirrored["head"]) / 2, rtol=1e-4, atol=1e-4)


def test_fit_square_modes() -> None:
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, :50] = 255  # white left quarter: cropped away by "center", kept by "full"
    assert fit_square(rgb, 64, "center").shape == (64, 64, 3)
    assert fit_square(rgb, 64, "center").mean() < 10
    assert fit_square(rgb, 64, "full").mean() > 50
    with pytest.raises(ValueError, match="center"):
        fit_square(rgb, 64, "stretch")


def test_ensemble_prefixes_blocks_and_rejects_bad_specs() -> None:
    ens = make_backbone("lite0+lite1")
    blocks = ens.blocks()
    assert "lite0/head" in blocks and "lite1/stage7" in blocks
    feats = ens.embed([data.coffee()], view="center")
    assert feats["lite1/head"].shape == (1, 1280)
    with pytest.raises(ValueError, match="valid parts"):
        make_backbone("lite0+resnet")


# ---- features and their cache -----------------------------------------------------------------
def test_extract_features_reports_bad_items_and_resumes_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = make_good_images(tmp_path / "imgs")
    bad = make_bad_files(tmp_path / "imgs")
    st = StimulusSet.from_list(good + [bad["truncated"], bad["not_image"]])
    b = EfficientNetLite("lite0")
    cache = tmp_path / "feats.sqlite"
    f1 = extract_features(st, b, view="center", batch_size=3, cache=cache, progress=False)
    assert len(f1.item_ids) == len(good)
    assert set(f1.errors) == {"truncated.jpg", "notes.png"}
    assert "truncated" in f1.errors["truncated.jpg"]
    # a second run reads every good item from the cache: the network must not run again
    monkeypatch.setattr(EfficientNetLite, "embed_arrays", lambda self, batch: (_ for _ in ()).throw(AssertionError("recomputed")))
    f2 = extract_features(StimulusSet.from_list(good), b, view="center", cache=cache, progress=False)
    np.testing.assert_array_equal(f2.matrix(["head"]), f1.matrix(["head"]))
    with pytest.raises(KeyError, match="not available"):
        f2.matrix(["nope"])


def test_bad_backbone_options_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"variant must be one of \('lite0', 'lite1', 'lite2'\), got 'lite9'"):
        EfficientNetLite("lite9")
    with pytest.raises(ValueError, match="pooling must be one of"):
        EfficientNetLite("lite0", pooling="max")


@pytest.mark.slow
def test_bfloat16_features_stay_close_to_float32_and_key_their_own_cache() -> None:
    f32, bf = make_backbone("lite0+lite1"), make_backbone("lite0+lite1", precision="bfloat16")
    assert "precision" not in str(f32.params())  # float32 caches keep their keys
    assert bf.fingerprint() != f32.fingerprint()
    imgs = [data.coffee(), data.astronaut(), data.chelsea()]
    a, b = f32.embed(imgs, view="full"), bf.embed(imgs, view="full")
    for name in a:
        assert b[name].dtype == np.float32
        assert np.corrcoef(a[name].ravel(), b[name].ravel())[0, 1] > 0.99, name
    assert (a["lite0/logits"].argmax(1) == b["lite0/logits"].argmax(1)).all()
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bfloat16'\), got 'float16'"):
        make_backbone("lite0", precision="float16")
    with pytest.raises(ValueError, match="EfficientNet-Lite backbones, not for 'hf:x'"):
        make_backbone("hf:x", precision="bfloat16")


@pytest.mark.slow
def test_image_rater_in_bfloat16_rates_like_float32(tmp_path: Path) -> None:
    from PIL import Image

    from affectscope.raters.image import ImageRater

    paths = []
    for name in ("coffee", "astronaut", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(tmp_path / f"{name}.png")
        paths.append(tmp_path / f"{name}.png")
    items = list(StimulusSet.from_list(paths))
    a = ImageRater(concepts=0, explain=False).rate_batch(items)
    b = ImageRater(concepts=0, explain=False, precision="bfloat16").rate_batch(items)
    for ra, rb in zip(a, b, strict=True):
        assert abs(ra["valence"] - rb["valence"]) < 0.3 and abs(ra["arousal"] - rb["arousal"]) < 0.3
        assert abs(ra["joy"] - rb["joy"]) < 0.05
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bfloat16'\)"):
        ImageRater(precision="half").outputs()  # checked before the first output (the constructor holds parameters only)


# ---- input size and the face channel ----------------------------------------------------------
def test_input_size_in_spec_changes_features_and_fingerprint_only_when_set() -> None:
    native, big = make_backbone("lite0"), make_backbone("lite0@288")
    assert native.input_size == 224 and big.input_size == 288
    assert "input_size" not in native.params()  # caches of the native size keep their keys
    assert big.fingerprint() != native.fingerprint()
    assert big.prepare(data.coffee(), "full")[0].shape == (288, 288, 3)
    f = big.embed([data.coffee()], view="full")
    assert f["head"].shape == (1, 1280) and imagenet_labels()[int(f["logits"].argmax())] in ("espresso", "cup", "coffee mug")
    assert EfficientNetLite("lite0", input_size=None).input_size == 224
    for bad in (10, 5000, 256.5):
        with pytest.raises(ValueError, match="input_size must be an integer from 64 to 1024"):
            EfficientNetLite("lite0", input_size=bad)  # type: ignore[arg-type]
    for spec, msg in (("lite0@big", "valid parts"), ("lite0+lite0", "twice"), ("+", "empty")):
        with pytest.raises(ValueError, match=msg):
            make_backbone(spec)


def test_face_channel_block_reads_faces_and_is_zero_without_them() -> None:
    pytest.importorskip("cv2")
    from affectscope.backbones.face_channel import FEATURES, FaceChannel

    ch = make_backbone("faces")
    assert isinstance(ch, FaceChannel) and ch.blocks() == {"expressions": 12}
    smile = ch.embed([data.astronaut()], view="full")["expressions"][0]
    row = dict(zip(FEATURES, smile, strict=True))
    assert row["any_face"] == 1 and row["faces_capped"] == pytest.approx(1 / 3)
    assert max(FEATURES[2:10], key=row.__getitem__) == "happiness" and row["valence"] > 7.5 / 9
    flat = ch.embed([np.full((300, 400, 3), 128, np.uint8)], view="full")["expressions"]
    np.testing.assert_array_equal(flat, np.zeros((1, 12)))
    ens = make_backbone("lite0+faces")
    assert "faces/expressions" in ens.blocks() and "lite0/head" in ens.blocks()
    got = ens.embed([data.astronaut(), data.coffee()], view="full+flip")
    assert got["faces/expressions"].shape == (2, 12) and got["faces/expressions"][1].sum() == 0
    np.testing.assert_allclose(got["faces/expressions"][0], smile, atol=1e-6)
    with pytest.raises(ValueError, match="view must be one of"):
        ch.prepare(data.astronaut(), "sideways")


def test_bfloat16_support_is_read_from_the_cpu_flags() -> None:
    from affectscope._cpu import bfloat16_from_cpuinfo

    amd = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 avx512f avx512bw\n"
    assert bfloat16_from_cpuinfo(amd) is False
    assert bfloat16_from_cpuinfo(amd.replace("avx512bw", "avx512bw avx512_bf16")) is True
    assert bfloat16_from_cpuinfo("flags : fpu amx_tile amx_bf16 amx_int8\n") is True
    assert bfloat16_from_cpuinfo("Processor : ARMv8\nFeatures : fp asimd\n") is None


@pytest.mark.parametrize("fast", [False, True, None])
def test_bfloat16_on_a_cpu_without_bfloat16_instructions_warns(monkeypatch: pytest.MonkeyPatch, fast: bool | None) -> None:
    import warnings

    from affectscope import _cpu
    from affectscope.backbones.efficientnet_lite import EfficientNetLite
    from affectscope.faces.ferplus_cnn import predict_proba

    monkeypatch.setattr(_cpu, "fast_bfloat16", lambda: fast)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        EfficientNetLite("lite0", precision="bfloat16").embed_arrays(np.zeros((1, 64, 64, 3), np.uint8))
        predict_proba(np.zeros((1, 48, 48), np.uint8), precision="bfloat16")
        EfficientNetLite("lite0").embed_arrays(np.zeros((1, 64, 64, 3), np.uint8))  # float32: never
    slow = [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning) and "bfloat16" in str(w.message)]
    if fast is False:
        assert len(slow) == 2 and all("Fix: precision='float32'" in m for m in slow)
        assert slow[0].startswith("EfficientNet-Lite0") and slow[1].startswith("the FER+ expression network")
    else:  # fast, or cannot be told: no warning
        assert slow == []


def test_onnxruntime_gives_torchs_features_and_caches_its_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#36: the image networks run in ONNX Runtime by default (runtime="auto"); features equal
    torch's within float error; the export is cached, and a damaged cache file is replaced."""
    pytest.importorskip("onnxruntime")
    from affectscope.backbones import efficientnet_lite as el

    monkeypatch.setenv("AFFECTSCOPE_CACHE", str(tmp_path))
    monkeypatch.setattr(el, "_SESSIONS", {})
    x = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    ort = el.EfficientNetLite("lite0", pooling="mean+std")
    assert ort.engine == "onnxruntime" and el.EfficientNetLite("lite0", precision="bfloat16").engine == "torch"
    torch_feats = el.EfficientNetLite("lite0", pooling="mean+std", runtime="torch").embed_arrays(x)
    ort_feats = ort.embed_arrays(x)
    assert list(ort_feats) == list(torch_feats)
    for name, v in torch_feats.items():
        np.testing.assert_allclose(ort_feats[name], v, rtol=1e-4, atol=1e-4 * float(np.abs(v).max()), err_msg=name)
    (cached,) = (tmp_path / "onnx").iterdir()
    cached.write_bytes(b"damaged")
    monkeypatch.setattr(el, "_SESSIONS", {})
    again = el.EfficientNetLite("lite0", pooling="mean+std").embed_arrays(x)
    np.testing.assert_array_equal(again["logits"], ort_feats["logits"])
    assert cached.stat().st_size > 1_000_000
    with pytest.raises(ValueError, match="runs float32"):
        el.EfficientNetLite("lite0", precision="bfloat16", runtime="onnxruntime")
    from affectscope.raters.image import ImageRater

    with pytest.raises(ValueError, match="runs float32, not precision='bfloat16'"):  # the rater says the backbone's check
        ImageRater(precision="bfloat16", runtime="onnxruntime").outputs()


def test_the_image_rater_rates_alike_in_both_runtimes(tmp_path: Path) -> None:
    """The default image rater's ratings through ONNX Runtime equal torch's (within 1e-4), and the
    runtime is not part of the fingerprint: a store written with one resumes with the other."""
    pytest.importorskip("onnxruntime")
    from PIL import Image
    from skimage import data

    from affectscope.raters.image import ImageRater
    from affectscope.stimuli import StimulusSet

    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(tmp_path / f"{name}.png")
    stimuli = list(StimulusSet.from_paths([tmp_path]))
    fast, slow = ImageRater(), ImageRater(runtime="torch")
    assert fast.fingerprint() == slow.fingerprint()
    for a, b in zip(fast.rate_batch(stimuli), slow.rate_batch(stimuli), strict=True):
        assert a.keys() == b.keys()
        for k, v in a.items():
            if isinstance(v, float):
                assert v == pytest.approx(b[k], abs=1e-4), k


def test_without_onnxruntime_auto_runs_torch_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from affectscope import _onnx
    from affectscope.backbones import efficientnet_lite as el

    monkeypatch.setattr(_onnx, "available", lambda: False)
    monkeypatch.setattr(el, "_SAID_FALLBACK", False)
    with pytest.warns(RuntimeWarning, match="ONNX Runtime .* not installed.*torch.*Fix: pip install --upgrade affectscope"):
        assert el.EfficientNetLite("lite0").engine == "torch"
