"""FER+: 10 annotators' votes per FER2013 face (Barsoum et al. 2016)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from affectscope.norms._common import NormsError, data_root, human, require
from affectscope.ratings import ColumnSpec, Ratings
from affectscope.taxonomy import COUNT, FERPLUS8, PROBABILITY

SOURCE = "Barsoum, Zhang, Canton Ferrer & Zhang (2016), ICMI (FER+ labels, MIT); FER2013 pixels research use only"
VOTE_COLUMNS = FERPLUS8.columns + ("unknown", "not_a_face")


def _npz(root: str | os.PathLike[str] | None, split: str) -> dict[str, np.ndarray]:
    if split not in ("train", "valid"):
        raise ValueError(f"split must be 'train' or 'valid', not {split!r} (the FER+ test split is not provided)")
    path = require(data_root(root) / "ferplus" / f"ferplus_{split}.npz", f"FER+ {split} split")
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    cols = tuple(str(c) for c in data["vote_columns"])
    if cols != VOTE_COLUMNS:
        raise NormsError(f"{path}: vote_columns {cols} differ from the expected {VOTE_COLUMNS}")
    return data


def load_ferplus(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "valid"] = "valid",
    *,
    drop_unusable: bool = True,
    clear_only: bool = False,
) -> Ratings:
    """FER+ vote distributions.

    Columns: the 8 FER+ emotions (taxonomy ``ferplus8``) as shares of the emotion votes (summing
    to 1), ``unknown`` and ``not_a_face`` as shares of all votes, ``n_votes``, and ``majority``
    (the emotion with most votes; ties go to the first in FER+ order). With ``drop_unusable``
    (default), faces whose most-voted label is unknown or not-a-face, or with no emotion votes,
    are dropped, the usual FER+ practice. With ``clear_only``, only the faces with a clear
    majority are kept (:func:`clear_majority`, the FER+ authors' protocol; ``norms:ferplus_clear``).
    Validation is for model selection: report it as validation, not test.
    """
    data = _npz(root, split)
    votes = data["votes"].astype(float)
    emo = votes[:, :8]
    total = votes.sum(axis=1)
    n_emo = emo.sum(axis=1)
    keep = np.ones(len(votes), dtype=bool)
    if drop_unusable:
        keep = usable(votes)
    if clear_only:
        keep &= clear_majority(votes) >= 0  # on these faces the clear majority is the most-voted emotion
    share = np.divide(emo, n_emo[:, None], out=np.zeros_like(emo), where=n_emo[:, None] > 0)
    frame = pd.DataFrame(share, columns=list(FERPLUS8.columns))
    frame.insert(0, "item_id", [str(n) for n in data["names"]])
    frame["unknown"] = votes[:, 8] / np.maximum(total, 1)
    frame["not_a_face"] = votes[:, 9] / np.maximum(total, 1)
    frame["n_votes"] = total
    frame["majority"] = [FERPLUS8.columns[i] for i in emo.argmax(axis=1)]
    frame = frame[keep]
    specs = [
        ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=FERPLUS8.name, description="share of emotion votes")
        for c in FERPLUS8.columns
    ]
    specs += [
        ColumnSpec(name="unknown", kind="other", scale=PROBABILITY, description="share of all votes"),
        ColumnSpec(name="not_a_face", kind="other", scale=PROBABILITY, description="share of all votes"),
        ColumnSpec(name="n_votes", kind="count", scale=COUNT, description="annotator votes"),
        ColumnSpec(name="majority", kind="text", description="most-voted emotion"),
    ]
    name = f"ferplus_{split}" + ("_clear" if clear_only else "")
    return Ratings(frame, specs, human(name, SOURCE, split=split, drop_unusable=drop_unusable, clear_only=clear_only))


def usable(votes: np.ndarray) -> np.ndarray:
    """Faces that the usual FER+ practice scores: the most-voted label is one of the 8 emotions
    (not unknown or not-a-face) and there is at least one emotion vote. ``votes``: ``(N, 10)``."""
    v = np.asarray(votes, dtype=float)
    return (v.argmax(axis=1) < 8) & (v[:, :8].sum(axis=1) > 0)


def clear_majority(votes: np.ndarray) -> np.ndarray:
    """The FER+ authors' "majority" label of each face: an index into the 8 emotions, or -1.

    This is how Barsoum et al. (2016) label validation and test faces in their code
    (microsoft/FERPlus, ``src/ferplus.py``, mode ``"majority"``), so their accuracies, and those of
    work that reuses their code, are on these faces. Labels with a single vote are dropped as outliers.
    The most-voted label must then hold more than half of the remaining votes, and it must be one of the
    8 emotions. Faces that fail either test get -1, and the protocol leaves them out.

    Parameters
    ----------
    votes : array of shape (N, 10)
        Vote counts over :data:`VOTE_COLUMNS` (the 8 emotions, unknown, not-a-face).

    Returns
    -------
    numpy.ndarray of int, shape (N,)
    """
    v = np.asarray(votes, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"votes of shape {v.shape}; expected (N, {len(VOTE_COLUMNS)}) over {VOTE_COLUMNS}")
    v = np.where(v <= 1, 0.0, v)
    top = v.argmax(axis=1)
    clear = (v.max(axis=1) > 0.5 * v.sum(axis=1)) & (top < 8)
    return np.where(clear, top, -1)


def load_ferplus_faces(
    root: str | os.PathLike[str] | None = None, split: Literal["train", "valid"] = "valid"
) -> tuple[list[str], np.ndarray]:
    """The face pixels: ``(names, images)`` with images of shape (N, 48, 48), uint8 grey."""
    data = _npz(root, split)
    return [str(n) for n in data["names"]], data["images"]


@dataclass(frozen=True)
class ScoredFaces:
    """The usable faces of a FER+ split with what a benchmark scores them against (one file read).

    Attributes
    ----------
    ids : list of str
        Face names, in file order (the rows of ``norms:ferplus``).
    images : numpy.ndarray
        ``(N, 48, 48)`` uint8 grey faces.
    majority : numpy.ndarray
        ``(N,)`` index into the 8 emotions (``FERPLUS8.columns``) of the most-voted emotion
        (ties go to the first), the ``majority`` column of ``norms:ferplus``.
    clear : numpy.ndarray
        ``(N,)`` bool: the face has a clear majority, the FER+ authors' protocol (:func:`clear_majority`;
        the rows of ``norms:ferplus_clear``). There the clear majority is ``majority``.
    """

    ids: list[str]
    images: np.ndarray
    majority: np.ndarray
    clear: np.ndarray


def load_scored_faces(root: str | os.PathLike[str] | None = None,
                      split: Literal["train", "valid"] = "valid") -> ScoredFaces:
    """The usable faces of a split, their most-voted emotion and the clear-majority mask."""
    data = _npz(root, split)
    votes = data["votes"].astype(float)
    keep = usable(votes)
    return ScoredFaces([str(n) for n in data["names"][keep]], data["images"][keep],
                       votes[keep, :8].argmax(axis=1), clear_majority(votes[keep]) >= 0)
