"""OASIS: 900 images, valence and arousal on 1-7 (Kurdi, Lozano & Banaji 2017)."""

from __future__ import annotations

import os

import pandas as pd

from affectscope.norms._common import data_root, human, require
from affectscope.ratings import ColumnSpec, Ratings
from affectscope.taxonomy import COUNT, OASIS_AROUSAL, OASIS_VALENCE

SOURCE = "Kurdi, Lozano & Banaji (2017), Behav Res Methods 49:457 (OASIS)"


def load_oasis(root: str | os.PathLike[str] | None = None) -> Ratings:
    """OASIS norms on their native 1-7 scales.

    Item ids are the image file names (``"Acorns 1.jpg"``; the two themes with a trailing space
    are stripped), so they match ``affectscope rate <root>/oasis/images``. Columns: ``valence``,
    ``arousal`` (1-7; convert explicitly, e.g. ``.convert("valence", "valence:sam9")``),
    ``valence_sd``/``arousal_sd``, ``valence_n``/``arousal_n``, ``category``
    (Person/Animal/Object/Scenery) and ``theme``: the picture's theme without its number
    ("Dog 1", "Dog 2" ... are theme "Dog"; 248 themes). Pictures of one theme are not independent
    items: :func:`affectscope.compare.compare_items` resamples whole themes for its CIs.
    """
    base = data_root(root) / "oasis"
    frame = pd.read_csv(require(base / "OASIS.csv", "OASIS.csv"))
    theme = frame["Theme"].astype(str).str.strip()
    images = base / "images"
    out = pd.DataFrame(
        {
            "item_id": theme + ".jpg",
            "path": [str(images / f"{t}.jpg") for t in theme],
            "valence": frame["Valence_mean"].astype(float),
            "arousal": frame["Arousal_mean"].astype(float),
            "valence_sd": frame["Valence_SD"].astype(float),
            "arousal_sd": frame["Arousal_SD"].astype(float),
            "valence_n": frame["Valence_N"].astype(float),
            "arousal_n": frame["Arousal_N"].astype(float),
            "category": frame["Category"].astype(str),
            "theme": theme.str.replace(r"\s*\d+$", "", regex=True),
        }
    )
    specs = [
        ColumnSpec(name="valence", scale=OASIS_VALENCE, description="mean rating"),
        ColumnSpec(name="arousal", scale=OASIS_AROUSAL, description="mean rating"),
        ColumnSpec(name="valence_sd", kind="other", scale=OASIS_VALENCE.spread_scale(), description="SD across raters"),
        ColumnSpec(name="arousal_sd", kind="other", scale=OASIS_AROUSAL.spread_scale(), description="SD across raters"),
        ColumnSpec(name="valence_n", kind="count", scale=COUNT, description="number of raters"),
        ColumnSpec(name="arousal_n", kind="count", scale=COUNT, description="number of raters"),
        ColumnSpec(name="category", kind="text", description="Person, Animal, Object or Scenery"),
        ColumnSpec(name="theme", kind="text", description="the picture's theme (its name without the number): clusters of related pictures"),
    ]
    return Ratings(out, specs, human("oasis", SOURCE))
