"""Valence, arousal and dominance (1-9, Warriner scale) for any word or phrase.

Normed lemmas are looked up exactly (case first, then lower case): the human mean is the best
answer there is. Anything else goes through the shipped model — the packaged MiniLM with LoRA
adapters and a linear head fine-tuned on the Warriner norms (``affectscope/text/weights``,
trained by ``scripts/train_text_affect.py``; its held-out r is in ``affect_meta.json``), stacked with
the NRC emotion lexicon where the weights folder holds a ``stack.json`` (:mod:`affectscope.text.stack`).
NRC category shares (:mod:`affectscope.text.nrc`) are part of the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGETS = ("valence", "arousal", "dominance")
#: Subfolder of the weights with the LoRA-adapted all-mpnet-base-v2 that ``mpnet=True`` uses as its model.
MPNET_MODEL = "mpnet"


def default_weights() -> Path:
    return Path(str(resources.files("affectscope.text") / "weights"))


class TextAffect:
    """Word/phrase affect: exact norms where they exist, the fine-tuned model elsewhere.

    Parameters
    ----------
    norms : DataFrame or None
        ``word`` + ``valence``/``arousal``/``dominance`` (default: the Warriner norms, see
        :func:`affectscope.text.norms.load_warriner`); ``False`` disables look-up.
    weights : str or None
        Folder of a model saved by :class:`~affectscope.text.finetune.AffectRegressor` (default:
        the shipped one).
    model : object or None
        Anything with ``predict(texts) -> (n, 3)``; overrides ``weights`` (tests, custom models).
    nrc : bool
        Add the NRC emotion-lexicon shares (``nrc_anger`` ... ``nrc_negative``, ``nrc_matched``,
        ``nrc_tokens``; see :func:`affectscope.text.nrc.nrc_scores`) to :meth:`score`'s output.
    stack : bool or None
        Combine the model's predictions with the NRC shares through the weights folder's
        ``stack.json``. ``None`` (default): when that file exists and ``model`` is not given
        (with ``llm=True``, always: that mode is a stack).
    lexicon : mapping or None
        NRC lexicon ``{word: [categories]}`` (default: the ``nrclex`` package's).
    llm : bool
        Also embed each text with Gemma 3 270M (:mod:`affectscope.text.llm_embed`, extra
        ``text-llm``; about 0.2 s per text on 2 cores) and use the stack that adds its head's
        predictions (``llm_head.npz`` and ``stack_llm.json`` in the weights folder). More accurate
        (see ``docs/text.md``), much slower. Needs the stack.
    llm_embedder : object or None
        Anything with ``encode(texts) -> (n, d)`` in place of Gemma (tests).
    mpnet : bool
        Also embed each text with all-mpnet-base-v2 (:mod:`affectscope.text.mpnet`; fetched once
        with ``affectscope text fetch-mpnet``; about 17 ms per text on 2 cores) and use the stack that adds its
        head's predictions (``mpnet_head.npz`` and ``stack_mpnet.json``, or ``stack_mpnet_llm.json``
        with ``llm=True``), with the LoRA-adapted MPNet (``mpnet/`` in the weights folder) in
        place of MiniLM as the model. More accurate than the default at little cost (see ``docs/text.md``).
        Needs the stack.
    mpnet_embedder : object or None
        Anything with ``encode(texts) -> (n, d)`` in place of MPNet (tests).
    """

    def __init__(self, norms: pd.DataFrame | None | bool = None, weights: str | None = None, model: Any = None,
                 nrc: bool = True, stack: bool | None = None, lexicon: Any = None, llm: bool = False,
                 llm_embedder: Any = None, mpnet: bool = False, mpnet_embedder: Any = None) -> None:
        self.norms = norms
        self.weights = weights
        self.model = model
        self.nrc = nrc
        self.stack = stack
        self.lexicon = lexicon
        self.llm = llm
        self.llm_embedder = llm_embedder
        self.mpnet = mpnet
        self.mpnet_embedder = mpnet_embedder

    @cached_property
    def _lookup(self) -> dict[str, np.ndarray]:
        if self.norms is False:
            return {}
        if self.norms is None or self.norms is True:
            from affectscope.text.norms import load_warriner

            table = load_warriner()
        else:
            table = self.norms
        vals = table[list(TARGETS)].to_numpy(float)
        exact = {str(w): v for w, v in zip(table["word"], vals)}
        lower: dict[str, np.ndarray] = {}
        for w, v in exact.items():
            lower.setdefault(w.lower(), v)
        return {**{f"\0{k}": v for k, v in lower.items()}, **exact}

    @property
    def _folder(self) -> Path:
        return Path(self.weights) if self.weights else default_weights()

    @cached_property
    def _model(self) -> Any:
        if self.model is not None:
            return self.model
        from affectscope.text.finetune import AffectRegressor

        if self.mpnet:  # the MPNet stacks are built on the LoRA-adapted MPNet, not on MiniLM
            folder = self._folder / MPNET_MODEL
            if not (folder / "affect_meta.json").is_file():
                raise FileNotFoundError(f"mpnet=True but {folder} holds no model; train one with "
                                        f"scripts/train_text_affect.py --base mpnet --out {folder}")
            return AffectRegressor.load(folder)
        return AffectRegressor.load(self._folder)

    @cached_property
    def _stack(self) -> dict[str, Any] | None:
        if self.stack is False or (self.stack is None and self.model is not None and not self._extras):
            return None
        from affectscope.text.stack import load_stack, stack_file

        name = stack_file(self._extras)
        params = load_stack(self._folder, name)
        if params is None and (self.stack or self._extras):
            flags = " ".join(f"--{e}" for e in self._extras) or "--stack"
            raise FileNotFoundError(f"{self._folder} has no {name}; train one with scripts/train_text_affect.py {flags}")
        return params

    @property
    def _extras(self) -> list[str]:
        """The extra heads this scorer stacks, in :data:`affectscope.text.stack.EXTRA_ORDER`."""
        return [name for name, on in (("mpnet", self.mpnet), ("llm", self.llm)) if on]

    @cached_property
    def _heads(self) -> dict[str, Any]:
        return {}

    def _head(self, name: str) -> Any:
        """The extra head ``name`` (``mpnet`` or ``llm``) from the weights folder, loaded once."""
        if name not in self._heads:
            from affectscope.text.llm_embed import LLMHead
            from affectscope.text.mpnet import MPNetHead

            cls = {"mpnet": MPNetHead, "llm": LLMHead}[name]
            embedder = getattr(self, f"{name}_embedder")
            if embedder is None and name == "mpnet" and getattr(self._model, "base", None) == "mpnet":
                embedder = self._model.base_encoder()  # the frozen MPNet, without a second copy in memory
            head = cls.load(self._folder, embedder=embedder)
            if head is None:
                raise FileNotFoundError(f"{name}=True but {self._folder} has no {cls.FILE}; "
                                        f"train one with scripts/train_text_affect.py --{name}")
            self._heads[name] = head
        return self._heads[name]

    @cached_property
    def _lexicon(self) -> Any:
        if self.lexicon is not None:
            return self.lexicon
        from affectscope.text.norms import load_nrc

        return load_nrc()

    def lookup(self, text: str) -> np.ndarray | None:
        """The human norms of ``text`` if it is a normed lemma, else ``None``."""
        t = text.strip()
        hit = self._lookup.get(t)
        return hit if hit is not None else self._lookup.get("\0" + t.lower())

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        """``valence``, ``arousal``, ``dominance`` (1-9), ``source`` and (``nrc``) the NRC shares per text.

        ``source`` is "norm" (exact human norm), "model", "model+nrc" (the model stacked with the
        NRC lexicon), "model+mpnet+nrc" (``mpnet=True``), "model+llm+nrc" (``llm=True``),
        "model+mpnet+llm+nrc" (both) or "empty": a text with no word characters
        (empty, blanks, punctuation) has no affect to measure and gets NaN, not the models'
        guess for nothing.
        """
        texts = [str(t) for t in texts]
        out = np.full((len(texts), 3), np.nan)
        source = ["model"] * len(texts)
        todo = []
        for i, t in enumerate(texts):
            if not any(ch.isalnum() for ch in t):
                source[i] = "empty"
                continue
            hit = self.lookup(t)
            if hit is not None:
                out[i], source[i] = hit, "norm"
            else:
                todo.append(i)
        nrc = None
        if self.nrc or (todo and self._stack is not None):
            from affectscope.text.nrc import nrc_scores

            nrc = nrc_scores(texts, self._lexicon)
        if self._extras and self.stack is False:
            flags = " and ".join(f"{e}=True" for e in self._extras)
            raise ValueError(f"{flags} combines the models through a stack file; it cannot run with stack=False")
        if todo:
            pred = np.asarray(self._model.predict([texts[i] for i in todo]), float)
            if self._stack is not None:
                from affectscope.text.stack import apply_stack

                extra = {e: self._head(e).predict([texts[i] for i in todo]) for e in self._extras}
                pred = apply_stack(self._stack, pred, nrc.iloc[todo], extra)
                for i in todo:
                    source[i] = "+".join(["model", *self._extras, "nrc"])
            out[todo] = np.clip(pred, 1.0, 9.0)
        frame = pd.DataFrame(out, columns=list(TARGETS), index=pd.Index(texts, name="text"))
        frame["source"] = source
        if self.nrc and nrc is not None:
            for c in nrc.columns:
                frame[c] = nrc[c].to_numpy()
        return frame
