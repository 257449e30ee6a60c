"""Any norms table: name the id column and the scale of each rating column."""

from __future__ import annotations

import os
from collections.abc import Mapping

from affectscope.ratings import Ratings, RaterInfo
from affectscope.taxonomy import Scale


def load_table_norms(
    path: str | os.PathLike[str],
    *,
    id_column: str,
    scales: Mapping[str, "Scale | str"],
    name: str | None = None,
    source: str = "",
) -> Ratings:
    """Human norms from a CSV or Parquet file.

    Parameters
    ----------
    path : path-like
    id_column : str
        Column holding item ids (matched to stimulus ids; see :func:`affectscope.ratings.align`).
    scales : mapping
        ``{column: scale}``, e.g. ``{"Valence_mean": "valence:1-7"}``. Only these columns are kept.
    name : str, optional
        Name of the norm set (default: file stem).
    source : str
        Citation.
    """
    r = Ratings.load(path, scales=scales, id_column=id_column)
    r.rater = RaterInfo(name=f"humans:{name or r.rater.name}", kind="human", source=source or str(path))
    return r
