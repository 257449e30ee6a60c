"""Feature blocks derived from the image networks' own outputs, for image heads to read.

Two blocks, each computed from the EfficientNet-Lite features a picture already has, so they cost
nothing at rating time:

- ``derived/emotion6``: the shipped Emotion6 basic-emotion head's 7 probabilities
  (``raters/heads/image_basic_emotions.npz``).
- ``derived/concept_norms``: for every network of the backbone, the valence, arousal and dominance
  (1-9) of the ImageNet concepts it sees, ``softmax(logits / 4) @ norms``, where ``norms`` holds the
  word norms of each class's first lemma (``backbones/imagenet_class_norms.tsv``, made by
  ``scripts/make_class_norms.py``).

A head trained with these blocks lists them among its blocks; the image rater computes them for
it. Training pictures of the basic-emotion head (Emotion6) must not get its in-sample
probabilities when another head is trained on them: pass their content keys and they get its
out-of-fold prediction instead (:func:`add_derived`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.special import softmax

from affectscope.training.heads import Head, HeadError

DERIVED_PREFIX = "derived/"
EMOTION6 = DERIVED_PREFIX + "emotion6"
CONCEPT_NORMS = DERIVED_PREFIX + "concept_norms"
#: Every derived block, in the order heads list them.
DERIVED = (EMOTION6, CONCEPT_NORMS)
CLASS_NORMS_FILE = "imagenet_class_norms.tsv"
BASIC_EMOTIONS_FILE = "image_basic_emotions.npz"
#: Softmax temperature of the concept-norm block: 4 spreads weight over the top concepts
#: (chosen among 1, 2 and 4 on OASIS 10-fold CV; see the model card).
CONCEPT_TEMPERATURE = 4.0
#: Weight of each derived block in the shipped heads (`affectscope train --recipe shipped`), against 1
#: for the pooled head and the logits of each network; fixed before it was scored on OASIS.
DERIVED_WEIGHT = 0.5


@lru_cache(maxsize=1)
def class_norms() -> np.ndarray:
    """``(1000, 3)``: valence, arousal and dominance (1-9) of each ImageNet class, in class order."""
    text = (resources.files("affectscope.backbones") / CLASS_NORMS_FILE).read_text(encoding="utf-8")
    rows = [ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    table = np.array([[float(v) for v in r[2:5]] for r in rows])
    if table.shape != (1000, 3) or not np.isfinite(table).all():
        raise HeadError(f"{CLASS_NORMS_FILE}: expected 1000 rows of finite valence/arousal/dominance, got {table.shape}; "
                        "reinstall affectscope or rerun scripts/make_class_norms.py")
    return table


@lru_cache(maxsize=1)
def basic_emotion_head() -> Head:
    """The shipped Emotion6 basic-emotion head (the source of ``derived/emotion6``)."""
    return Head.load(str(resources.files("affectscope.raters") / "heads" / BASIC_EMOTIONS_FILE))


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(np.asarray(logits, np.float64) / temperature, axis=1)


def concept_norms(blocks: Mapping[str, np.ndarray], temperature: float = CONCEPT_TEMPERATURE) -> np.ndarray:
    """``(n, 3 * networks)``: per network (in block order), the expected valence, arousal and
    dominance of the ImageNet concepts it sees."""
    logits = [k for k in blocks if k == "logits" or k.endswith("/logits")]
    if not logits:
        raise HeadError(f"{CONCEPT_NORMS} needs ImageNet logits blocks, and the backbone gave none (have {list(blocks)}); "
                        "use an EfficientNet-Lite backbone")
    norms = class_norms()
    return np.hstack([_softmax(blocks[k], temperature) @ norms for k in logits])


def emotion6(blocks: Mapping[str, np.ndarray], keys: Sequence[str | None] | None = None) -> np.ndarray:
    """``(n, 7)``: the basic-emotion head's probabilities; rows whose content key is one of its
    training pictures get its out-of-fold prediction."""
    head = basic_emotion_head()
    try:
        p = head.predict(blocks)
    except HeadError as exc:
        raise HeadError(f"{EMOTION6} reads the shipped basic-emotion head, which needs the backbone "
                        f"{(head.meta.get('backbone') or {}).get('spec')}: {exc}") from None
    if keys is not None and head.training is not None:
        for row, key in enumerate(keys):
            hit = head.training.row(key) if key else None
            if hit is not None:
                p[row] = head.training.oof[hit]
    return p


def add_derived(blocks: Mapping[str, np.ndarray], names: Iterable[str],
                keys: Sequence[str | None] | None = None) -> dict[str, np.ndarray]:
    """``blocks`` plus the derived blocks among ``names`` (other names are ignored).

    Parameters
    ----------
    blocks : mapping of str to array
        Backbone feature blocks, one row per item.
    names : iterable of str
        Block names a head needs; those in :data:`DERIVED` are computed.
    keys : sequence of str or None, optional
        Content key of each row's picture (``Stimulus.signature()``). Training pictures of the
        basic-emotion head then get its out-of-fold probabilities (use this when training).
    """
    out = dict(blocks)
    wanted = set(names)
    unknown = {n for n in wanted if n.startswith(DERIVED_PREFIX)} - set(DERIVED)
    if unknown:
        raise HeadError(f"unknown derived blocks {sorted(unknown)}; this affectscope knows {list(DERIVED)}: upgrade it")
    if EMOTION6 in wanted:
        out[EMOTION6] = emotion6(blocks, keys)
    if CONCEPT_NORMS in wanted:
        out[CONCEPT_NORMS] = concept_norms(blocks)
    return out
