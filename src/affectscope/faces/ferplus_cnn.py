"""The project's facial-expression CNN, trained on FER+ vote distributions (8 emotions).

Trained by ``scripts/train_ferplus.py`` (soft labels from 10 annotators, class-balanced loss
weights, mirror and shift augmentation); weights shipped as float16 in ``faces/weights/``, with the
training report beside them. Input: 48x48 grey faces, ``(x / 255 - 0.5) * 2``; prediction averages
the face and its mirror image.

Inference speed (``bench/micro_expressions.py`` prints faces/s): at load each convolution absorbs its
batch norm (exact up to float rounding) and the network runs in channels-last layout, in chunks of
``BATCH`` faces whose activations stay in cache, face and mirror image in one forward pass.
``precision="bfloat16"`` runs it under CPU autocast: about twice as fast on CPUs with AMX or
AVX512-BF16, with probabilities within ~0.01 of float32 (measured on FER+ validation, see
docs/faces.md); float32 is the default because it gives the same numbers on every machine.
``precision="int8"`` (ONNX Runtime, ``ferplus_large`` only) runs a shipped statically quantized model
(``scripts/quantize_ferplus.py``), and ``mirror=False`` reads each face once: together about 4x
faster than float32 on a CPU without AMX, at 0.006 lower FER+ validation accuracy (model card).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._checks import check_option
from affectscope._cpu import warn_if_slow_bfloat16
from affectscope import _onnx
from affectscope.backbones.weights import verify
from affectscope.faces import face_input

FERPLUS_LABELS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
INPUT_SIZE = 48


@dataclass(frozen=True)
class Variant:
    """One shipped FER+ CNN: weights file (in ``faces/weights/``), its SHA-256, network width."""

    file: str
    sha256: str
    width: int
    summary: str


#: The shipped FER+ CNNs (training commands and FER+ validation numbers: ``faces/weights/MODEL_CARD.md``).
VARIANTS: dict[str, Variant] = {
    "ferplus": Variant("ferplus_cnn_w16_affine.pt", "429eed59da2cc1a50c7823aa330039f363d6dca1080f7d4363bcee572e6f49f5", 16,
                       "width 16, 0.3 M parameters: fast"),
    "ferplus_large": Variant("ferplus_cnn_w32.pt", "7f1db10136665e21a6100c1702175f0b6110f5b1efad4f26be243724c17af1bc", 32,
                             "width 32, 1.2 M parameters: more accurate, about 4x slower in float32"),
}
DEFAULT_VARIANT = "ferplus"
WIDTH = VARIANTS[DEFAULT_VARIANT].width
#: Faces of FER+ train (the 28,556 with an emotion vote, as ``scripts/train_ferplus.py`` reads them) per
#: majority emotion, in :data:`FERPLUS_LABELS` order: the training prior that ``prior_correction`` divides out.
TRAIN_MAJORITY_COUNTS = (10377, 7537, 3583, 3559, 2476, 195, 659, 170)
#: Faces per forward pass (x2 with the mirror images): small enough that activations stay in cache.
BATCH = 32
PRECISIONS = ("float32", "bfloat16", "int8")
#: Shipped int8 ONNX models (``scripts/quantize_ferplus.py``; ``precision="int8"``, ONNX Runtime): variant -> (file, SHA-256).
INT8_FILES: dict[str, tuple[str, str]] = {
    "ferplus_large": ("ferplus_cnn_w32_int8.onnx", "8403e1c0110aaabe5b9737e955e9d11a4a9aa7d93c8fb4d5ccfc02ff94081f82"),
}
#: Inference engines: PyTorch, or ONNX Runtime (in the default install; float32, or int8 where :data:`INT8_FILES` has a model).
RUNTIMES = ("torch", "onnxruntime")

_LOCK = threading.Lock()
_SESSIONS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # network -> ONNX Runtime session
_SHIPPED: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # shipped network -> its variant name
_INT8_SESSIONS: dict[str, Any] = {}  # variant -> ONNX Runtime session of its int8 model


def build(width: int = WIDTH) -> Any:
    """A compact VGG-style CNN: 4 stages of two 3x3 conv + BN + ReLU, global pooling, linear."""
    from torch import nn

    def stage(cin: int, cout: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    w = width
    return nn.Sequential(
        *stage(1, w), nn.MaxPool2d(2),
        *stage(w, 2 * w), nn.MaxPool2d(2),
        *stage(2 * w, 4 * w), nn.MaxPool2d(2),
        *stage(4 * w, 8 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * w, len(FERPLUS_LABELS)),
    )


def _variant(name: str) -> Variant:
    check_option("FER+ CNN variant", name, tuple(VARIANTS))
    return VARIANTS[name]


def shipped_weights(variant: str = DEFAULT_VARIANT) -> Path:
    """Path of a shipped variant's weights file."""
    return Path(str(resources.files("affectscope.faces") / "weights" / _variant(variant).file))


def fuse_batchnorm(model: Any) -> Any:
    """The same network with every Conv2d + BatchNorm2d pair merged into one Conv2d (eval mode)."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    layers = list(model)
    out: list[Any] = []
    i = 0
    while i < len(layers):
        if isinstance(layers[i], nn.Conv2d) and i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d):
            out.append(fuse_conv_bn_eval(layers[i], layers[i + 1]))
            i += 2
        else:
            out.append(layers[i])
            i += 1
    return nn.Sequential(*out).eval()


@lru_cache(maxsize=2)
def _cached(path: str, width: int) -> Any:
    import torch

    model = build(width)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return fuse_batchnorm(model.eval()).to(memory_format=torch.channels_last)


def load_ferplus_cnn(path: str | Path | None = None, width: int | None = None, *, variant: str = DEFAULT_VARIANT) -> Any:
    """The FER+ CNN (eval mode): a shipped variant (checksum verified) or a file of your own.

    Parameters
    ----------
    path : path-like, optional
        Weights of your own (``scripts/train_ferplus.py``); default: the shipped ``variant``.
    width : int, optional
        Network width of ``path`` (default: that of ``variant``).
    variant : str, default "ferplus"
        A key of :data:`VARIANTS`.
    """
    v = _variant(variant)
    width = v.width if width is None else width
    if path is None:
        p = shipped_weights(variant)
        verify(p, v.sha256)
    else:
        p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: FER+ CNN weights not found. Fix: train them with scripts/train_ferplus.py")
    with _LOCK:
        model = _cached(str(p.resolve()), width)
        if path is None:
            _SHIPPED[model] = variant
        return model


def preprocess(grey: np.ndarray) -> np.ndarray:
    """``(N, 48, 48)`` uint8 grey faces -> ``(N, 1, 48, 48)`` float32 in [-1, 1]."""
    return face_input(grey, INPUT_SIZE)


def check_prior_correction(tau: Any) -> float:
    """``tau`` as a float in [0, 2], or ``ValueError`` saying what is allowed."""
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise ValueError(f"prior_correction must be a number in [0, 2], got {tau!r}") from None
    if not 0.0 <= value <= 2.0:
        raise ValueError(f"prior_correction must lie in [0, 2] (0: none, 0.5: balanced recall), got {tau!r}")
    return value


def correct_prior(probs: np.ndarray, tau: float) -> np.ndarray:
    """Divide ``(N, 8)`` FER+ probabilities by the training prior to the power ``tau``, renormalised.

    Post-hoc logit adjustment (Menon et al. 2021): ``tau = 0`` leaves them unchanged; larger values move
    decisions towards rare expressions (contempt, disgust, fear), trading accuracy for balanced
    recall. FER+ validation numbers per ``tau`` are in the model card (``faces/weights/MODEL_CARD.md``).
    """
    tau = check_prior_correction(tau)
    if tau == 0 or len(probs) == 0:
        return probs
    prior = np.asarray(TRAIN_MAJORITY_COUNTS, dtype=np.float64)
    q = probs * (prior / prior.sum()) ** -float(tau)
    return (q / q.sum(axis=1, keepdims=True)).astype(probs.dtype)


def check_runtime(runtime: str, precision: str = "float32") -> str:
    """``runtime`` if it is one of :data:`RUNTIMES` and runs ``precision``, else ``ValueError`` with the fix."""

    check_option("runtime", runtime, RUNTIMES)
    if precision == "int8" and runtime != "onnxruntime":
        raise ValueError("precision='int8' runs in ONNX Runtime only (a shipped quantized model). "
                         "Fix: runtime='onnxruntime'")
    if runtime == "onnxruntime" and precision == "bfloat16":
        raise ValueError("runtime='onnxruntime' runs float32 or int8, not bfloat16. "
                         "Fix: precision='float32' or 'int8', or runtime='torch' for bfloat16")
    return runtime


def export_onnx(model: Any, opset: int | None = None) -> bytes:
    """``model`` (a FER+ CNN) as ONNX bytes, input ``x`` ``(n, 1, 48, 48)``, output ``logits``."""
    import copy

    import torch

    net = copy.deepcopy(model).eval().to(memory_format=torch.contiguous_format)
    return _onnx.export(net, (torch.zeros(2, 1, INPUT_SIZE, INPUT_SIZE),), input_names=["x"], output_names=["logits"], opset=opset)


def onnx_session(model: Any) -> Any:
    """An ONNX Runtime session running ``model`` (a FER+ CNN), exported in memory on first use and
    kept as long as the network lives. Threads: as many as torch uses (``torch.get_num_threads()``)."""
    with _LOCK:
        if model not in _SESSIONS:
            _onnx.require_onnxruntime("runtime='onnxruntime'", onnx=True)
            _SESSIONS[model] = _onnx.session(export_onnx(model))
        return _SESSIONS[model]


def check_int8(variant: str) -> str:
    """``variant`` if an int8 model of it is shipped, else ``ValueError`` naming those that are."""
    if variant not in INT8_FILES:
        raise ValueError(f"precision='int8' is shipped for model {' or '.join(map(repr, INT8_FILES))}, not {variant!r}. "
                         f"Fix: model={next(iter(INT8_FILES))!r}, or precision='float32'")
    return variant


def int8_session(model: Any) -> Any:
    """An ONNX Runtime session of the shipped int8 model of ``model`` (a shipped FER+ CNN, as
    :func:`load_ferplus_cnn` returns it; checksum verified on first use)."""
    with _LOCK:
        variant = check_int8(_SHIPPED.get(model, "a network of your own"))
        if variant not in _INT8_SESSIONS:
            _onnx.require_onnxruntime("precision='int8'")
            path = Path(str(resources.files("affectscope.faces") / "weights" / INT8_FILES[variant][0]))
            verify(path, INT8_FILES[variant][1])
            _INT8_SESSIONS[variant] = _onnx.session(str(path))
        return _INT8_SESSIONS[variant]


def _logits_onnx(x: np.ndarray, session: Any, batch_size: int, mirror: bool = True) -> np.ndarray:
    """Logits of ``(N, 1, 48, 48)`` inputs through an ONNX Runtime session (face and mirror image
    averaged, or the face alone)."""
    out = []
    batch_size = max(1, batch_size)
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        if not mirror:
            out.append(session.run(None, {"x": np.ascontiguousarray(xb)})[0])
            continue
        logits = session.run(None, {"x": np.ascontiguousarray(np.concatenate([xb, xb[..., ::-1]]))})[0]
        out.append((logits[: len(xb)] + logits[len(xb):]) / 2)
    return np.concatenate(out) if out else np.zeros((0, len(FERPLUS_LABELS)), np.float32)


def predict_proba(grey: np.ndarray, model: Any = None, *, precision: str = "float32", batch_size: int = BATCH,
                  prior_correction: float = 0.0, runtime: str = "torch", mirror: bool = True) -> np.ndarray:
    """FER+ probabilities ``(N, 8)`` in :data:`FERPLUS_LABELS` order (face and mirror image averaged).

    Parameters
    ----------
    grey : numpy.ndarray
        ``(N, 48, 48)`` uint8 grey faces.
    model : torch.nn.Module, optional
        Default: the shipped network (:func:`load_ferplus_cnn`).
    precision : {"float32", "bfloat16", "int8"}
        ``"bfloat16"``: CPU autocast, faster where the CPU has AMX/AVX512-BF16, probabilities
        within ~0.01 of float32. ``"int8"``: the shipped int8 model (:data:`INT8_FILES`, ONNX
        Runtime only; ``ferplus_large``), about 1.6-1.8x faster than float32 on CPUs without AMX
        with the same FER+ validation accuracy (model card).
    batch_size : int
        Faces per forward pass.
    prior_correction : float, default 0
        Divide out the training prior to this power (:func:`correct_prior`): 0.5 raises the recall of
        rare expressions at some cost in accuracy.
    runtime : {"torch", "onnxruntime"}
        ``"onnxruntime"`` runs the same network through ONNX Runtime (:func:`onnx_session`, or
        :func:`int8_session` for ``precision="int8"``; in the default install): in float32,
        probabilities within 1e-6 of torch's, 1.07-1.24x faster on a 2-core AMD CPU without AMX
        (docs/faces.md).
    mirror : bool, default True
        Average the face and its mirror image (the default); False halves the work, at a small cost
        in accuracy (model card).
    """
    import torch

    check_option("precision", precision, PRECISIONS)
    check_runtime(runtime, precision)
    check_prior_correction(prior_correction)  # before the work
    if precision == "bfloat16":
        warn_if_slow_bfloat16("the FER+ expression network")
    model = model or load_ferplus_cnn()
    if runtime == "onnxruntime":  # check_runtime above sends every int8 call here
        session = int8_session(model) if precision == "int8" else onnx_session(model)
        logits = torch.from_numpy(_logits_onnx(preprocess(grey), session, batch_size, mirror))
        return correct_prior(torch.softmax(logits, dim=1).numpy(), prior_correction)
    x = torch.from_numpy(preprocess(grey))
    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        batch_size = max(1, batch_size)
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            if not mirror:
                out.append(torch.softmax(model(xb.contiguous(memory_format=torch.channels_last)).float(), dim=1))
                continue
            both = torch.cat([xb, torch.flip(xb, dims=[3])]).contiguous(memory_format=torch.channels_last)
            logits = model(both).float()
            out.append(torch.softmax((logits[: len(xb)] + logits[len(xb):]) / 2, dim=1))
    probs = torch.cat(out).numpy() if out else np.zeros((0, len(FERPLUS_LABELS)), np.float32)
    return correct_prior(probs, prior_correction)
