"""Any Hugging Face ``transformers`` vision model as a backbone (CLIP, SigLIP, DINOv2, ConvNeXt, ViT ...).

For users with internet (a hub id) or a local folder saved with ``save_pretrained``. Features are
the token-mean (ViT-like) or spatial-mean (CNN-like) of chosen hidden layers, plus the model's own
pooled output where it has one. Preprocessing reads ``image_mean``, ``image_std`` and the input
size from the folder's ``preprocessor_config.json`` (no torchvision needed).

Install with ``pip install 'affectscope[hf]'``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectscope.backbones.base import Backbone
from affectscope._install import install_hint

_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(model: str, revision: str | None, local_only: bool) -> tuple[Any, dict[str, Any]]:
    try:
        from transformers import AutoConfig, AutoModel
    except ImportError as exc:
        raise ImportError(f"Hugging Face backbones need transformers. {install_hint('hf')}") from exc
    try:
        config = AutoConfig.from_pretrained(model, revision=revision, local_files_only=local_only)
        net = AutoModel.from_pretrained(model, revision=revision, local_files_only=local_only)
    except OSError as exc:
        raise OSError(
            f"cannot load Hugging Face model {model!r} ({exc}). Fix: pass a folder saved with save_pretrained, "
            "or a hub id with internet access (and local_only=False)"
        ) from None
    vision = getattr(net, "vision_model", None) or net  # CLIP/SigLIP: the image tower only
    pre: dict[str, Any] = {}
    cfg_file = Path(model) / "preprocessor_config.json"
    if cfg_file.is_file():
        pre = json.loads(cfg_file.read_text())
    else:
        try:
            from huggingface_hub import hf_hub_download

            pre = json.loads(Path(hf_hub_download(model, "preprocessor_config.json", revision=revision,
                                                  local_files_only=local_only)).read_text())
        except Exception:  # noqa: BLE001 - fall back to the config's image size and ImageNet statistics
            pre = {}
    vcfg = getattr(config, "vision_config", None) or config
    pre.setdefault("_image_size", getattr(vcfg, "image_size", 224))
    return vision.eval(), pre


def _input_size(pre: dict[str, Any]) -> int:
    size = pre.get("crop_size") or pre.get("size") or pre.get("_image_size") or 224
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge") or next(iter(size.values()))
    if isinstance(size, (list, tuple)):
        size = size[0]
    return int(size)


class HFVision(Backbone):
    """A ``transformers`` vision model.

    Parameters
    ----------
    model : str
        Hub id (``"facebook/dinov2-small"``) or a local folder.
    layers : sequence of int
        Hidden-state indices to pool (negative counts from the end; 0 is the embeddings).
    revision : str, optional
        Hub revision (pin it for reproducible features).
    local_only : bool, default True
        Never touch the network (set False to download a hub id).
    """

    def __init__(self, model: str, *, layers: Sequence[int] = (-4, -1), revision: str | None = None, local_only: bool = True) -> None:
        self.model = str(model)
        self.layers = tuple(int(i) for i in layers)
        self.revision = revision
        self.local_only = local_only
        if local_only and not Path(self.model).exists() and os.sep not in self.model and "/" not in self.model:
            raise ValueError(f"{model!r} is neither a folder nor a hub id of the form 'org/name'")

    def _net(self) -> tuple[Any, dict[str, Any]]:
        with _LOCK:
            return _load(self.model, self.revision, self.local_only)

    @property
    def input_size(self) -> int:  # type: ignore[override]
        return _input_size(self._net()[1])

    def params(self) -> dict[str, Any]:
        return {"class": "HFVision", "model": self.model, "layers": list(self.layers), "revision": self.revision}

    def blocks(self) -> dict[str, int]:
        probe = self.embed_arrays(np.zeros((1, self.input_size, self.input_size, 3), np.uint8))
        return {k: v.shape[1] for k, v in probe.items()}

    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        net, pre = self._net()
        mean = torch.tensor(pre.get("image_mean", [0.485, 0.456, 0.406]), dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre.get("image_std", [0.229, 0.224, 0.225]), dtype=torch.float32).view(1, 3, 1, 1)
        scale = float(pre.get("rescale_factor", 1 / 255))
        x = (torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() * scale - mean) / std
        with torch.inference_mode():
            out = net(pixel_values=x, output_hidden_states=True)
        feats: dict[str, np.ndarray] = {}
        hidden = out.hidden_states
        for i in self.layers:
            h = hidden[i]
            pooled = h.mean(dim=(2, 3)) if h.dim() == 4 else h.mean(dim=1)
            feats[f"layer{i % len(hidden)}"] = pooled.float().numpy()
        pool = getattr(out, "pooler_output", None)
        if pool is not None:
            feats["pooled"] = pool.reshape(len(batch), -1).float().numpy()
        return feats

    def __repr__(self) -> str:
        return f"HFVision(model={self.model!r}, layers={self.layers})"
