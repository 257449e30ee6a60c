"""Ratings files: CSV with a ``<file>.meta.json`` sidecar, or Parquet with the same metadata inside
the file. A plain CSV/Parquet file without metadata still loads when its rating columns are
declared (the scale of each, or the category set of its category columns)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from affectscope._files import atomic_write
from affectscope.ratings.table import META_KEY, STATUS_COLUMNS, ColumnSpec, RaterInfo, Ratings, RatingsError
from affectscope.taxonomy import COUNT, PROBABILITY, Scale, get_category_set, get_scale


#: Columns of a plain file kept as text beside its declared ratings: ``theme`` (clusters of related
#: items, resampled whole by the CIs and the RSA test) and ``category`` (GW category matching).
GROUPING_COLUMNS = ("theme", "category")


def save_ratings(ratings: Ratings, path: str | os.PathLike[str]) -> Path:
    """Write CSV (plus ``.meta.json`` sidecar) or Parquet, by extension; atomic replace."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise RatingsError(f"cannot write {path}: use a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = ratings.to_frame()
    meta = ratings.metadata()
    if suffix == ".csv":
        atomic_write(path, lambda p: frame.to_csv(p, index=False))
        atomic_write(sidecar_path(path), lambda p: Path(p).write_text(json.dumps(meta, indent=2)))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY.encode(): json.dumps(meta).encode()})
        atomic_write(path, lambda p: pq.write_table(table, p))
    return path


def load_ratings(
    path: str | os.PathLike[str],
    *,
    scales: Mapping[str, "Scale | str"] | None = None,
    categories: str | None = None,
    id_column: str = "item_id",
) -> "Ratings":
    """Read a table written by :func:`save_ratings`, or a plain CSV/Parquet file.

    Parameters
    ----------
    path : path-like
    scales : mapping, optional
        For files without affectscope metadata: ``{column: scale}`` for every rating
        column to keep. Ignored when metadata exists. A declared column's ``<column>_sd`` and
        ``<column>_n`` (SD across raters, number of raters) are kept too, and so are the
        grouping columns ``theme`` and ``category``.
    categories : str, optional
        For files without affectscope metadata: a category set (e.g. ``"emotion6"``); the
        file's columns named after its categories are read as probabilities or shares (0-1).
        Other columns are ignored. Ignored when metadata exists.
    id_column : str, default "item_id"
        The id column of a plain file.
    """
    path = Path(path)
    if not path.exists():
        raise RatingsError(f"ratings file not found: {path}")
    suffix = path.suffix.lower()
    meta: dict[str, Any] | None = None
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype={id_column: str}, keep_default_na=True)
        side = sidecar_path(path)
        if side.exists():
            meta = json.loads(side.read_text())
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        raw = (table.schema.metadata or {}).get(META_KEY.encode())
        meta = json.loads(raw) if raw else None
        frame = table.to_pandas()
    else:
        raise RatingsError(f"cannot read {path}: expected a .csv or .parquet file")
    if meta is not None:
        specs = [ColumnSpec(**c) for c in meta["columns"]]
        rater = RaterInfo(**meta["rater"])
        return Ratings(frame, specs, rater)
    if id_column not in frame.columns:
        raise RatingsError(f"{path}: no id column {id_column!r}; columns are {list(frame.columns)}. "
                           "Name the id column (Python: id_column='name'; command line: --id-column name)")
    if not scales and not categories:
        raise RatingsError(
            f"{path} has no affectscope metadata ({sidecar_path(path).name} missing): "
            "declare its rating columns: the scale of each (Python: scales={'valence': 'valence:1-7'}; "
            "command line: --scale valence=valence:1-7) and/or the category set of its category columns "
            "(categories='emotion6'; --categories emotion6)"
        )
    scales = dict(scales or {})
    missing = [c for c in scales if c not in frame.columns]
    if missing:
        raise RatingsError(f"{path}: columns {missing} not found; columns are {list(frame.columns)}")
    specs = [ColumnSpec(name=c, kind="scale", scale=get_scale(s)) for c, s in scales.items()]
    if categories:
        cset = get_category_set(categories)
        found = [c for c in cset.columns if c in frame.columns and c not in scales]
        if not found:
            raise RatingsError(f"{path}: no column is named after a category of {cset.name!r}; expected some of "
                               f"{list(cset.columns)}, columns are {list(frame.columns)}")
        absent = [c for c in cset.columns if c not in found]
        if absent:
            raise RatingsError(f"{path}: category set {cset.name!r} needs a column per category; missing {absent}. "
                               "Add them (0 where no one chose the category), or pick the category set that "
                               "matches the file (`affectscope taxonomy` lists them)")
        over = [c for c in found if (pd.to_numeric(frame[c], errors="coerce") > 1).any()]
        if over:
            raise RatingsError(f"{path}: category columns {over} hold values above 1; they must be shares or "
                               "probabilities (0-1): divide vote counts by each row's total")
        specs += [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=cset.name,
                             description=f"share or probability ({path.name})") for c in found]
    # companions of the declared scales (the SD across raters and their number: noise ceilings,
    # homogeneity) and the grouping columns (clustered resampling: theme; GW categories: category)
    taken = {sp.name for sp in specs}
    for c, sp in [(sp.name, sp) for sp in specs if sp.kind == "scale"]:
        if f"{c}_sd" in frame.columns and f"{c}_sd" not in taken:
            specs.append(ColumnSpec(name=f"{c}_sd", kind="other", scale=sp.scale.spread_scale(),  # type: ignore[union-attr]
                                    description=f"SD of {c} across raters ({path.name})"))
        if f"{c}_n" in frame.columns and f"{c}_n" not in taken:
            specs.append(ColumnSpec(name=f"{c}_n", kind="count", scale=COUNT, description=f"raters of {c} ({path.name})"))
    for c in GROUPING_COLUMNS:
        if c in frame.columns and c not in taken and c != id_column:
            frame[c] = frame[c].astype(str)
            specs.append(ColumnSpec(name=c, kind="text", description=f"grouping column ({path.name})"))
    keep = [id_column] + [c for c in ("path", *STATUS_COLUMNS) if c in frame.columns] + [sp.name for sp in specs]
    frame = frame[keep].rename(columns={id_column: "item_id"})
    return Ratings(frame, specs, RaterInfo(name=path.stem, kind="file", source=str(path)))


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The metadata file beside a CSV: ``ratings.csv`` -> ``ratings.csv.meta.json``."""
    p = Path(path)
    return p.with_name(p.name + ".meta.json")
