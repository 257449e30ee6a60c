"""The Hugging Face adapter, on tiny randomly initialised models saved to a temporary folder
(no download: the same code path a user's local folder or hub id takes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from affectscope.backbones.efficientnet_lite import make_backbone  # noqa: E402
from affectscope.backbones.hf import HFVision  # noqa: E402
from affectscope.training.features import Features  # noqa: E402
from affectscope.training.heads import fit_scale_head  # noqa: E402


def _save(model, folder: Path, size: int) -> Path:
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(
        {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"height": size, "width": size}}))
    return folder


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    cfg = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                                 intermediate_size=32)
    return _save(transformers.ViTModel(cfg), tmp_path_factory.mktemp("vit"), 32)


@pytest.fixture(scope="module")
def tiny_convnext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    cfg = transformers.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, image_size=32)
    return _save(transformers.ConvNextModel(cfg), tmp_path_factory.mktemp("convnext"), 32)


def test_vit_folder_gives_pooled_layers(tiny_vit: Path) -> None:
    b = make_backbone(f"hf:{tiny_vit}")
    assert isinstance(b, HFVision) and b.input_size == 32
    widths = b.blocks()
    assert widths == {"layer0": 16, "layer3": 16, "pooled": 16}  # hidden states -4 and -1 of 4, and the pooler
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(3)]
    f = b.embed(imgs, view="full")
    assert all(v.shape[0] == 3 for v in f.values())
    assert not np.allclose(f["layer3"][0], f["layer3"][1])  # different images, different features


def test_convnext_folder_and_a_head_on_its_features(tiny_convnext: Path) -> None:
    b = HFVision(str(tiny_convnext), layers=(-1,))
    rng = np.random.default_rng(1)
    levels = rng.uniform(0, 255, 40)
    imgs = [np.clip(lv + rng.normal(0, 10, (32, 32, 3)), 0, 255).astype(np.uint8) for lv in levels]
    f = b.embed(imgs, view="full")
    head = fit_scale_head(f, list(f), levels / 32 + 1, ["valence"])
    assert head.predict(f).shape == (40, 1)
    assert Features([str(i) for i in range(40)], f).matrix(list(f)).shape[0] == 40


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="save_pretrained"):
        HFVision(str(tmp_path / "no-such-model")).blocks()
    with pytest.raises(ValueError, match="hub id"):
        HFVision("justaname")
