"""NRC emotion-lexicon scores for words and phrases.

The NRC Word-Emotion Association Lexicon (Mohammad & Turney 2013; 6,468 words in the ``nrclex``
package's data file) marks each word with any of 8 emotions (Plutchik's anger, anticipation, disgust,
fear, joy, sadness, surprise, trust) and 2 sentiments (positive, negative). :func:`nrc_scores` counts,
for each text, the share of its word tokens associated with each category — for a single word that
is a 0/1 flag — and how many tokens the lexicon knows (``nrc_matched``), so that "no association"
and "not in the lexicon" stay apart.

Tokens are lower-cased runs of letters (an inner apostrophe kept). A token the lexicon lacks is
tried without a common inflection (``-'s``, ``-ies``/``-ied`` to ``-y``, ``-ing`` with or without a
restored ``e``, ``-es``, ``-ed``, ``-s``, ``-d``); the first stripped form that is a lexicon word is
used. Nothing else is lemmatised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from affectscope.text.norms import load_nrc

#: The lexicon's categories, in output order: Plutchik's 8 emotions, then the 2 sentiments.
NRC_CATEGORIES = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust",
                  "positive", "negative")
#: Output columns of :func:`nrc_scores`.
NRC_COLUMNS = tuple(f"nrc_{c}" for c in NRC_CATEGORIES) + ("nrc_matched", "nrc_tokens")

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")
_SUFFIXES = (("'s", ""), ("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("es", ""), ("ed", ""), ("s", ""), ("d", ""))


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (letters, inner apostrophes kept)."""
    return _TOKEN.findall(str(text).lower().replace("\u2019", "'"))


def lexicon_entry(token: str, lexicon: Mapping[str, Sequence[str]]) -> tuple[str, list[str]] | None:
    """``(lexicon word, categories)`` for ``token``, or ``None`` if neither it nor its de-inflected form is listed."""
    if token in lexicon:
        return token, list(lexicon[token])
    for suffix, repl in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)] + repl
            if stem in lexicon:
                return stem, list(lexicon[stem])
    return None


def nrc_scores(texts: Sequence[str], lexicon: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """NRC category shares per text.

    Parameters
    ----------
    texts : sequence of str
        Words, phrases or sentences.
    lexicon : mapping or None
        ``{word: [categories]}`` (default: :func:`affectscope.text.norms.load_nrc`, which needs
        ``nrclex``). Categories outside :data:`NRC_CATEGORIES` are ignored.

    Returns
    -------
    DataFrame
        Indexed by the texts, with ``nrc_<category>`` = tokens associated with the category / all
        tokens (0 when the text has no tokens), ``nrc_matched`` = tokens found in the lexicon and
        ``nrc_tokens`` = all tokens.
    """
    if lexicon is None:
        lexicon = load_nrc()
    texts = [str(t) for t in texts]
    col = {c: j for j, c in enumerate(NRC_CATEGORIES)}
    out = np.zeros((len(texts), len(NRC_COLUMNS)))
    for i, text in enumerate(texts):
        tokens = tokenize(text)
        for tok in tokens:
            entry = lexicon_entry(tok, lexicon)
            if entry is None:
                continue
            out[i, -2] += 1
            for cat in set(entry[1]):
                if cat in col:
                    out[i, col[cat]] += 1
        out[i, -1] = len(tokens)
        if tokens:
            out[i, : len(NRC_CATEGORIES)] /= len(tokens)
    frame = pd.DataFrame(out, columns=list(NRC_COLUMNS), index=pd.Index(texts, name="text"))
    return frame.astype({"nrc_matched": int, "nrc_tokens": int})


def nrc_summary(row: Mapping[str, float]) -> str:
    """The categories with a non-zero share in one row of :func:`nrc_scores`, e.g. ``"fear .50, negative .50"``."""
    parts = [f"{c} {row[f'nrc_{c}']:.2f}".replace(" 0.", " .").replace(" 1.00", " 1")
             for c in NRC_CATEGORIES if row.get(f"nrc_{c}", 0) > 0]
    return ", ".join(parts) if parts else ("-" if row.get("nrc_matched", 0) == 0 else "none")
