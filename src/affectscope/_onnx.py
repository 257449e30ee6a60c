"""ONNX Runtime sessions of the package's torch networks: export (in memory, or cached on disk),
and CPU sessions with the thread count torch uses. Used by the image backbones and the FER+ CNN."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

from affectscope._files import atomic_write
from affectscope._install import install_hint


def available() -> bool:
    """Whether ONNX Runtime and onnx (torch's exporter needs it) can be imported."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def require_onnxruntime(what: str, *, onnx: bool = False) -> None:
    """``ImportError`` naming the install command when ONNX Runtime (and ``onnx``, for the export) is missing."""
    try:
        if onnx:
            import onnx as _onnx  # noqa: F401  (torch's exporter needs it)
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        needs = "onnxruntime and onnx" if onnx else "onnxruntime"
        raise ImportError(f"{what} needs {needs}. {install_hint('core')}") from exc


def export(module: Any, example: tuple[Any, ...], *, input_names: list[str], output_names: list[str] | None = None,
           dynamic_batch: bool = True, opset: int | None = None) -> bytes:
    """``module`` (in eval mode) as ONNX bytes through torch's exporter, the first axis of every
    input and output dynamic (batch)."""
    import torch

    buf = io.BytesIO()
    axes = {n: {0: "n"} for n in [*input_names, *(output_names or [])]} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notices about its own future
        torch.onnx.export(module, example, buf, input_names=input_names, output_names=output_names, dynamic_axes=axes,
                          dynamo=False, **({"opset_version": opset} if opset is not None else {}))
    return buf.getvalue()


def session(source: bytes | str | os.PathLike[str], threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session of a model (bytes or file) with ``threads`` intra-op threads
    (default: as many as torch uses)."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    src = str(source) if isinstance(source, os.PathLike) else source
    return ort.InferenceSession(src, options, providers=["CPUExecutionProvider"])


def cached_export(path: Path, make: Any) -> bytes:
    """The ONNX bytes cached at ``path``, or ``make()`` written there atomically (a cache that
    cannot be written is skipped: the bytes are returned all the same)."""
    if path.is_file():
        return path.read_bytes()
    data = make()
    try:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError:
        pass
    return data
