"""Emotion6: valence/arousal (1-9 SAM) and a 7-way emotion distribution per image (Peng et al. 2015)."""

from __future__ import annotations

import os

import pandas as pd

from affectscope.norms._common import data_root, human, require
from affectscope.ratings import ColumnSpec, Ratings
from affectscope.taxonomy import EMOTION6, PROBABILITY, SAM_AROUSAL, SAM_VALENCE

SOURCE = "Peng, Sadovnik, Gallagher & Chen (2015), CVPR (Emotion6); academic research only"


def load_emotion6(root: str | os.PathLike[str] | None = None, *, folder: str = "emotion6_dev") -> Ratings:
    """Emotion6 norms. Item ids are the relative image paths (``"anger/1.jpg"``), matching
    ``affectscope rate <root>/emotion6_dev/images``. The folder name is the search keyword, not a
    label (kept in ``keyword``); the human label is the distribution (columns of taxonomy
    ``emotion6``: anger, disgust, fear, joy, sadness, surprise, neutral)."""
    base = data_root(root) / folder
    frame = pd.read_csv(require(base / "ground_truth.tsv", "Emotion6 ground_truth.tsv"), sep="\t")
    frame = frame.rename(columns={"image": "item_id"})
    frame["item_id"] = frame["item_id"].astype(str)
    frame["path"] = [str(base / "images" / i) for i in frame["item_id"]]
    frame["keyword"] = frame["item_id"].str.split("/").str[0]
    specs = [
        ColumnSpec(name="valence", scale=SAM_VALENCE, description="mean of 15 raters"),
        ColumnSpec(name="arousal", scale=SAM_AROUSAL, description="mean of 15 raters"),
    ]
    specs += [
        ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=EMOTION6.name, description="share of raters")
        for c in EMOTION6.columns
    ]
    specs.append(ColumnSpec(name="keyword", kind="text", description="search keyword used to collect the image (not a label)"))
    keep = ["item_id", "path"] + [s.name for s in specs]
    return Ratings(frame[keep], specs, human("emotion6", SOURCE, folder=folder))
