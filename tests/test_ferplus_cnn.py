"""The FER+ CNN: file round trip, input checks, and (with the shipped weights) a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from affectscope.faces.ferplus_cnn import (
    FERPLUS_LABELS,
    TRAIN_MAJORITY_COUNTS,
    VARIANTS,
    build,
    correct_prior,
    load_ferplus_cnn,
    predict_proba,
    preprocess,
)


def test_weights_round_trip_in_float16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build(8).eval()
    path = tmp_path / "w.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
    loaded = load_ferplus_cnn(path, width=8)
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    p = predict_proba(x, loaded)
    assert p.shape == (3, len(FERPLUS_LABELS))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    mirrored = predict_proba(x[:, :, ::-1].copy(), loaded)
    np.testing.assert_allclose(p, mirrored, atol=1e-5)  # the face and its mirror image are averaged


def test_input_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="48, 48"):
        preprocess(np.zeros((1, 64, 64), np.uint8))
    with pytest.raises(FileNotFoundError, match="train_ferplus"):
        load_ferplus_cnn(tmp_path / "none.pt")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_shipped_models_read_a_smile(variant: str) -> None:
    face = np.asarray(Image.fromarray(data.astronaut()[30:190, 160:320]).convert("L").resize((48, 48)))
    model = load_ferplus_cnn(variant=variant)  # checksum verified
    p = predict_proba(face[None], model)[0]
    assert FERPLUS_LABELS[int(p.argmax())] == "happiness" and p.max() > 0.8
    assert sum(x.numel() for x in model.parameters()) > 1e6 * (VARIANTS[variant].width >= 32)  # the width it claims


def test_unknown_variant_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match=r"FER\+ CNN variant must be one of \('ferplus', 'ferplus_large'\)"):
        load_ferplus_cnn(variant="ferplus_xl")


def _random_bn_model(width: int = 8) -> torch.nn.Module:
    torch.manual_seed(1)
    model = build(width)
    for m in model.modules():  # non-trivial batch-norm statistics, so fusing has something to fold
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_fused_channels_last_network_equals_the_trained_one(tmp_path: Path) -> None:
    from affectscope.faces.ferplus_cnn import fuse_batchnorm

    model = _random_bn_model()
    fused = fuse_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(5, 1, 48, 48)
    with torch.inference_mode():
        np.testing.assert_allclose(fused(x.contiguous(memory_format=torch.channels_last)).numpy(), model(x).numpy(), atol=1e-4)
    # the loader serves the fused network; predictions equal the unfused face + mirror average
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    faces = np.random.default_rng(1).integers(0, 256, (70, 48, 48)).astype(np.uint8)
    xs = torch.from_numpy(preprocess(faces))
    with torch.inference_mode():
        ref = torch.softmax((model(xs) + model(torch.flip(xs, dims=[3]))) / 2, dim=1).numpy()
    loaded = load_ferplus_cnn(path, width=8)
    np.testing.assert_allclose(predict_proba(faces, loaded), ref, atol=1e-5)
    # chunking does not change the answer
    np.testing.assert_allclose(predict_proba(faces, loaded, batch_size=7), ref, atol=1e-5)
    assert predict_proba(faces[:0], loaded).shape == (0, len(FERPLUS_LABELS))


@pytest.mark.slow
def test_bfloat16_stays_close_to_float32() -> None:
    faces = np.random.default_rng(2).integers(0, 256, (40, 48, 48)).astype(np.uint8)
    p32 = predict_proba(faces)
    p16 = predict_proba(faces, precision="bfloat16")
    assert np.abs(p16 - p32).max() < 0.05 and (p16.argmax(1) == p32.argmax(1)).mean() >= 0.9
    np.testing.assert_allclose(p16.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="precision must be one of"):
        predict_proba(faces, precision="float16")


def test_prior_correction_moves_decisions_to_rare_expressions() -> None:
    """Known answer: with equal probabilities for every expression, the corrected decision is the rarest
    in training (contempt); tau = 0 changes nothing; the correction is monotone in tau."""
    flat = np.full((1, 8), 1 / 8)
    assert FERPLUS_LABELS[int(correct_prior(flat, 1.0).argmax())] == FERPLUS_LABELS[int(np.argmin(TRAIN_MAJORITY_COUNTS))] == "contempt"
    np.testing.assert_array_equal(correct_prior(flat, 0.0), flat)
    faces = np.random.default_rng(3).integers(0, 256, (30, 48, 48)).astype(np.uint8)
    p0 = predict_proba(faces)
    shares = [predict_proba(faces, prior_correction=t)[:, [5, 6, 7]].sum(1).mean() for t in (0.0, 0.5, 1.0)]
    assert shares[0] < shares[1] < shares[2]  # mass on disgust, fear, contempt grows with tau
    p1 = predict_proba(faces, prior_correction=0.5)
    np.testing.assert_allclose(p1.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p1, correct_prior(p0, 0.5), rtol=1e-5)
    with pytest.raises(ValueError, match=r"prior_correction must lie in \[0, 2\]"):
        predict_proba(faces, prior_correction=-1)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_onnxruntime_gives_torch_probabilities(variant: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    faces = np.random.default_rng(1).integers(0, 256, (37, 48, 48)).astype(np.uint8)  # 37: a ragged last batch
    model = load_ferplus_cnn(variant=variant)
    ref = predict_proba(faces, model, prior_correction=0.5)
    got = predict_proba(faces, model, prior_correction=0.5, runtime="onnxruntime", batch_size=16)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert (got.argmax(1) == ref.argmax(1)).all()
    assert predict_proba(faces[:0], model, runtime="onnxruntime").shape == (0, len(FERPLUS_LABELS))
    from affectscope.faces.ferplus_cnn import onnx_session

    assert onnx_session(model) is onnx_session(model)  # exported once per network


def test_runtime_is_checked() -> None:
    faces = np.zeros((1, 48, 48), np.uint8)
    with pytest.raises(ValueError, match=r"runtime must be one of \('torch', 'onnxruntime'\)"):
        predict_proba(faces, runtime="tensorrt")
    with pytest.raises(ValueError, match="not bfloat16.*precision='float32'"):
        predict_proba(faces, precision="bfloat16", runtime="onnxruntime")
    with pytest.raises(ValueError, match="int8' runs in ONNX Runtime only.*runtime='onnxruntime'"):
        predict_proba(faces, precision="int8")


def test_int8_model_is_shipped_for_the_listed_variants_and_checked() -> None:
    from affectscope.backbones.weights import verify
    from affectscope.faces.ferplus_cnn import INT8_FILES, shipped_weights

    for variant, (name, sha) in INT8_FILES.items():
        assert variant in VARIANTS
        verify(shipped_weights(variant).with_name(name), sha)  # raises on a mismatch
    faces = np.zeros((1, 48, 48), np.uint8)
    with pytest.raises(ValueError, match="int8' is shipped for model 'ferplus_large', not 'ferplus'.*Fix"):
        predict_proba(faces, load_ferplus_cnn(variant="ferplus"), precision="int8", runtime="onnxruntime")


def test_int8_stays_close_to_float32_on_face_like_inputs() -> None:
    pytest.importorskip("onnxruntime")
    # smooth random "faces" (blurred noise), since int8 ranges were calibrated on faces, not on white noise
    rng = np.random.default_rng(4)
    raw = rng.normal(size=(48, 12, 12))
    faces = np.clip(128 + 40 * np.kron(raw, np.ones((4, 4))), 0, 255).astype(np.uint8)
    model = load_ferplus_cnn(variant="ferplus_large")
    p32 = predict_proba(faces, model, runtime="onnxruntime")
    p8 = predict_proba(faces, model, precision="int8", runtime="onnxruntime", batch_size=20)
    assert p8.shape == p32.shape and p8.dtype == np.float32
    np.testing.assert_allclose(p8.sum(1), 1.0, rtol=1e-5)
    assert np.abs(p8 - p32).max() < 0.15 and (p8.argmax(1) == p32.argmax(1)).mean() >= 0.8
    from affectscope.faces.ferplus_cnn import int8_session

    assert int8_session(model) is int8_session(model)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_mirror_false_reads_the_face_alone(runtime: str, tmp_path: Path) -> None:
    if runtime == "onnxruntime":
        pytest.importorskip("onnxruntime")
    import torch

    torch.manual_seed(0)  # fixed weights: the test does not depend on the tests run before it
    model = build(8).eval()
    with torch.no_grad():
        model[-1].weight.mul_(300)  # a random network's outputs are near uniform; make them decisive
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    loaded = load_ferplus_cnn(path, width=8)
    faces = np.random.default_rng(5).integers(0, 256, (9, 48, 48)).astype(np.uint8)
    xs = torch.from_numpy(preprocess(faces))
    with torch.inference_mode():
        ref = torch.softmax(model(xs), dim=1).numpy()
    np.testing.assert_allclose(predict_proba(faces, loaded, mirror=False, runtime=runtime), ref, atol=1e-5)
    with torch.inference_mode():  # the default averages the logits of the face and its mirror image
        both = torch.softmax((model(xs) + model(torch.flip(xs, dims=[3]))) / 2, dim=1).numpy()
    np.testing.assert_allclose(predict_proba(faces, loaded, runtime=runtime), both, atol=1e-5)
    assert np.abs(both - ref).max() > 1e-4  # and the two differ: the check above can tell them apart


def test_missing_onnxruntime_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from affectscope.faces import ferplus_cnn

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"needs onnxruntime and onnx\. Fix: pip install --upgrade affectscope"):
        ferplus_cnn.onnx_session(build(8).eval())


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_batch_size_below_one_means_one_face_per_pass(runtime: str) -> None:
    if runtime == "onnxruntime":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    faces = np.random.default_rng(2).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    ref = predict_proba(faces, runtime=runtime)
    got = predict_proba(faces, runtime=runtime, batch_size=0)  # used to slice empty batches and return nothing
    assert got.shape == (3, len(FERPLUS_LABELS))
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_missing_onnxruntime_for_int8_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from affectscope.faces import ferplus_cnn

    monkeypatch.setattr(ferplus_cnn, "_INT8_SESSIONS", {})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"precision='int8' needs onnxruntime\. Fix: pip install --upgrade affectscope"):
        ferplus_cnn.int8_session(load_ferplus_cnn(variant="ferplus_large"))
