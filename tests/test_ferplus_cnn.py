"""The FER+ CNN: file round trip, input checks, and (with the shipped weights) a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from affectscope.faces.ferplus_cnn import FERPLUS_LABELS, build, load_ferplus_cnn, predict_proba, preprocess


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


def test_shipped_model_reads_a_smile() -> None:
    face = np.asarray(Image.fromarray(data.astronaut()[30:190, 160:320]).convert("L").resize((48, 48)))
    p = predict_proba(face[None])[0]
    assert FERPLUS_LABELS[int(p.argmax())] == "happiness" and p.max() > 0.8
