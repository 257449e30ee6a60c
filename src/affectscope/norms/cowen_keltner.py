"""Cowen & Keltner (2017): 2185 videos rated on 34 categories, 14 dimensions and free-response terms."""

from __future__ import annotations

import csv
import os

import pandas as pd

from affectscope.norms._common import NormsError, data_root, human, require
from affectscope.ratings import ColumnSpec, Ratings
from affectscope.taxonomy import CK34, PROBABILITY, Scale

SOURCE = "Cowen & Keltner (2017), PNAS 114:E7900"
DIMENSIONS = (
    "approach", "arousal", "attention", "certainty", "commitment", "control", "dominance", "effort",
    "fairness", "identity", "obstruction", "safety", "upswing", "valence",
)
TERM_PREFIX = "term:"


def load_cowen_keltner(root: str | os.PathLike[str] | None = None, *, include_terms: bool = True) -> Ratings:
    """Human ratings of the 2185 Cowen & Keltner videos (no clips).

    Columns: the 34 categories (taxonomy ``ck34``, share of raters choosing each; multi-choice, so
    shares need not sum to 1), the 14 dimensions (mean of 1-9 ratings, by plain name), and, with
    ``include_terms``, the 600 free-response terms as ``"term:<term>"`` (share of raters using it).
    Item ids are the file names (``"0001.mp4"``).
    """
    path = require(data_root(root) / "cowen_keltner_2017" / "CowenKeltnerEmotionalVideos.csv", "Cowen & Keltner ratings")
    # The header repeats names (e.g. "arousal" is a dimension and a free-response term), which
    # pandas would mangle to "arousal.1": read it ourselves and address columns by position.
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    cats = list(CK34.categories)
    n_fixed = 1 + len(cats) + len(DIMENSIONS)
    if header[:n_fixed] != ["Filename", *cats, *DIMENSIONS]:
        missing = [c for c in ["Filename", *cats, *DIMENSIONS] if c not in header[:n_fixed]]
        raise NormsError(f"{path}: expected Filename, the 34 categories and 14 dimensions first; missing or out of order: {missing}")
    frame = pd.read_csv(path, header=None, skiprows=1, names=list(range(len(header))))
    frame.columns = header[:n_fixed] + [f"#{i}" for i in range(n_fixed, len(header))]
    terms = header[n_fixed:]
    cols: dict[str, pd.Series] = {"item_id": frame["Filename"].astype(str)}
    specs = []
    for c in cats:
        cols[CK34.column(c)] = frame[c].astype(float)
        specs.append(ColumnSpec(name=CK34.column(c), kind="category", scale=PROBABILITY, taxonomy=CK34.name, description="share of raters"))
    for d in DIMENSIONS:
        cols[d] = frame[d].astype(float)
        specs.append(ColumnSpec(name=d, scale=Scale(dimension=d, low=1, high=9, name="ck9", source=SOURCE), description="mean 1-9 rating"))
    if include_terms:
        if len(set(terms)) != len(terms):
            raise NormsError(f"{path}: free-response terms repeat: {sorted({t for t in terms if terms.count(t) > 1})}")
        for i, t in enumerate(terms, start=n_fixed):
            cols[TERM_PREFIX + t] = frame[f"#{i}"].astype(float)
        specs += [ColumnSpec(name=TERM_PREFIX + t, kind="feature", scale=PROBABILITY, description="share of raters using this free-response term") for t in terms]
    out = pd.DataFrame(cols)
    return Ratings(out, specs, human("cowen_keltner_2017", SOURCE, include_terms=include_terms))


def load_emonet_split(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """EmoNet's train/test video lists (Kragel et al. 2019): columns ``video``, ``emotion``, ``split``."""
    base = data_root(root) / "cowen_keltner_2017" / "emonet_kragel2019_split"
    parts = []
    for split in ("train", "test"):
        f = pd.read_csv(require(base / f"kragel2019_{split}_video_ids.csv", f"EmoNet {split} list"), dtype=str)
        f["split"] = split
        parts.append(f)
    return pd.concat(parts, ignore_index=True)
