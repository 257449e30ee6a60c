"""`Ratings`: a pandas DataFrame indexed by ``item_id`` plus descriptors: a :class:`ColumnSpec` per
column (its kind, scale and taxonomy) and a :class:`RaterInfo` saying who or what produced it; the
table's operations (subsets, renames, explicit scale conversion, crosswalks to other category sets).
Files are :mod:`affectscope.ratings.io`; pairing two tables is :mod:`affectscope.ratings.align`.
"""

from __future__ import annotations

import datetime as _dt
import warnings
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from affectscope.taxonomy import PROBABILITY, Scale, ScaleError, get_category_set, get_crosswalk, get_scale

ColumnKind = Literal["scale", "category", "feature", "count", "text", "other"]
META_KEY = "affectscope"
RESERVED = ("item_id", "path", "error", "warning")
#: The per-item status columns that close a table: a failure message, a caveat on a rated item.
STATUS_COLUMNS = ("error", "warning")
#: A text column naming, per item, the output columns whose model was trained on that item
#: (space-separated; empty when none). Written by the image rater, read by the compare module.
TRAINING_COLUMN = "training_item"


class UnreachableCategoryWarning(UserWarning):
    """A crosswalk leaves whole target categories with no source: their columns are 0 by construction."""


class RatingsError(ValueError):
    """Raised for malformed rating tables, unreadable files and failed alignments."""


class ColumnSpec(BaseModel):
    """What one column of a rating table holds.

    Parameters
    ----------
    name : str
        Column name (stable; documented per rater).
    kind : {"scale", "category", "feature", "count", "text", "other"}
        ``scale``: an affective rating (valence ...); ``category``: probability or share of
        one category of ``taxonomy``; ``feature``: a descriptive measurement (brightness ...);
        ``count``: number of raters/votes; ``text``: free text; ``other``: anything else.
    scale : Scale or None
        Range and anchors; required for ``scale`` and ``category`` columns.
    taxonomy : str or None
        Category set name for ``category`` columns.
    description : str
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ColumnKind = "scale"
    scale: Scale | None = None
    taxonomy: str | None = None
    description: str = ""

    def model_post_init(self, __context: Any) -> None:
        if self.name in RESERVED:
            raise RatingsError(f"column name {self.name!r} is reserved ({RESERVED})")
        if self.kind in ("scale", "category") and self.scale is None:
            raise RatingsError(f"column {self.name!r} of kind {self.kind!r} needs a scale")
        if self.kind == "category":
            if self.taxonomy is None:
                raise RatingsError(f"category column {self.name!r} needs a taxonomy")
            try:
                get_category_set(self.taxonomy).column(self.name)
            except KeyError as exc:
                raise RatingsError(str(exc.args[0])) from None


class RaterInfo(BaseModel):
    """Provenance of a rating table: who or what rated, with which settings.

    Parameters
    ----------
    name : str
        Rater name (registry name, or e.g. ``"humans:oasis"``).
    family : {"model", "llm", "human", "file", "baseline"}
        What kind of rater this is (files store it under the key ``"kind"``, and read either).
    version : str
    params : dict
        Every setting that changes the output.
    source : str
        Citation or file the ratings came from.
    created : str
        ISO timestamp.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    family: Literal["model", "llm", "human", "file", "baseline"] = Field(
        "model", validation_alias=AliasChoices("family", "kind"), serialization_alias="kind")
    version: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    source: str = ""
    created: str = Field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))


class Ratings:
    """Items x dimensions, with the scale of each column and provenance.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per item. Either indexed by ``item_id`` or with an ``item_id`` column.
        Optional ``path`` (stimulus file) and ``error`` (per-item failure message) columns.
    columns : iterable of ColumnSpec
        One spec per rating column (every column except ``item_id``, ``path``, ``error``).
    rater : RaterInfo
    """

    def __init__(self, data: pd.DataFrame, columns: Iterable[ColumnSpec], rater: RaterInfo) -> None:
        df = data.copy()
        if "item_id" in df.columns:
            df = df.set_index("item_id")
        df.index = df.index.map(str)
        df.index.name = "item_id"
        dup = df.index[df.index.duplicated()].unique()
        if len(dup):
            raise RatingsError(f"duplicate item ids: {list(dup[:5])} ({len(dup)} in all); item ids must be unique")
        specs = {c.name: c for c in columns}
        value_cols = [c for c in df.columns if c not in RESERVED]
        missing = [c for c in value_cols if c not in specs]
        if missing:
            raise RatingsError(f"columns without a ColumnSpec: {missing}; declare their kind and scale")
        absent = [c for c in specs if c not in df.columns]
        if absent:
            raise RatingsError(f"ColumnSpecs for columns not in the table: {absent}")
        for name, spec in specs.items():
            if spec.kind == "text":
                continue
            if df[name].dtype == object:
                try:
                    df[name] = pd.to_numeric(df[name], errors="raise")
                except (ValueError, TypeError) as exc:
                    raise RatingsError(f"column {name!r} holds non-numeric values ({exc}); declare it kind='text' or fix the data") from None
            if spec.scale is not None:
                try:
                    spec.scale.check(df[name].to_numpy(dtype=float), what=f"values of column {name!r}")
                except ScaleError as exc:
                    raise RatingsError(str(exc)) from None
        for col in STATUS_COLUMNS:
            if col in df.columns:
                df[col] = df[col].astype(object).where(df[col].notna() & (df[col] != ""), None)
        ordered = [c for c in ("path",) if c in df.columns] + list(specs) + [c for c in STATUS_COLUMNS if c in df.columns]
        self.data: pd.DataFrame = df[ordered].copy()
        self.columns: dict[str, ColumnSpec] = specs
        self.rater = rater

    # ---- views ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"Ratings({len(self)} items x {len(self.columns)} columns, rater={self.rater.name!r})"

    @property
    def item_ids(self) -> list[str]:
        return list(self.data.index)

    @property
    def errors(self) -> pd.Series:
        """Error message per failed item (empty when every item succeeded)."""
        if "error" not in self.data.columns:
            return pd.Series(dtype=object, name="error")
        e = self.data["error"]
        return e[e.notna()]

    @property
    def warnings(self) -> pd.Series:
        """Warning per rated item that came with a caveat (a truncated video, LLM participants that
        failed ...); empty when there is none."""
        if "warning" not in self.data.columns:
            return pd.Series(dtype=object, name="warning")
        w = self.data["warning"]
        return w[w.notna()]

    def ok(self) -> "Ratings":
        """Only the items without an error."""
        keep = self.data.index.difference(self.errors.index, sort=False)
        return self.subset(keep)

    def columns_of(self, kind: ColumnKind | None = None, taxonomy: str | None = None) -> list[str]:
        """Column names filtered by kind and/or taxonomy."""
        return [
            n for n, s in self.columns.items()
            if (kind is None or s.kind == kind) and (taxonomy is None or s.taxonomy == taxonomy)
        ]

    def values(self, column: str) -> pd.Series:
        """One column as a Series indexed by item id."""
        if column not in self.columns:
            raise KeyError(f"no column {column!r}; available: {list(self.columns)}")
        return self.data[column]

    def subset(self, item_ids: Iterable[str]) -> "Ratings":
        """A new Ratings restricted to (and ordered by) ``item_ids``."""
        ids = list(item_ids)
        unknown = [i for i in ids if i not in self.data.index]
        if unknown:
            raise RatingsError(f"unknown item ids: {unknown[:5]} ({len(unknown)} in all)")
        return Ratings(self.data.loc[ids], self.columns.values(), self.rater)

    def select(self, columns: Iterable[str]) -> "Ratings":
        """A new Ratings with only ``columns`` (plus path/error)."""
        cols = list(columns)
        for c in cols:
            self.values(c)
        keep = [c for c in ("path",) if c in self.data] + cols + [c for c in STATUS_COLUMNS if c in self.data]
        return Ratings(self.data[keep], [self.columns[c] for c in cols], self.rater)

    def rename(self, columns: Mapping[str, str]) -> "Ratings":
        """A new Ratings with columns renamed, e.g. ``{"Valence_mean": "valence"}`` so that a lab
        spreadsheet's column meets the rater's ``valence`` in a comparison.

        Scales, kinds and taxonomies stay with the values. Companion columns (``<column>_sd``,
        ``<column>_n``) are columns like any other: rename them too where they exist. The
        ``training_item`` column, which names outputs, follows the new names.

        Raises
        ------
        RatingsError
            For a column not in the table, a reserved new name, or a new name that another
            column already has or receives.
        """
        mapping = {str(k): str(v) for k, v in columns.items() if k != v}
        unknown = [c for c in mapping if c not in self.columns]
        if unknown:
            raise RatingsError(f"cannot rename {unknown}: no such rating column; the columns are {list(self.columns)}")
        reserved = [v for v in (*mapping, *mapping.values()) if v in (*RESERVED, TRAINING_COLUMN) or not v]
        if reserved:
            raise RatingsError(f"cannot rename {mapping}: {reserved} are reserved or empty names ({[*RESERVED, TRAINING_COLUMN]})")
        new_names = [mapping.get(c, c) for c in self.columns]
        clash = sorted({n for n in new_names if new_names.count(n) > 1})
        if clash:
            raise RatingsError(f"renaming {mapping} would give two columns the name(s) {clash}; rename or select "
                               "the other column first")
        df = self.data.rename(columns=mapping)
        if TRAINING_COLUMN in df.columns:
            df[TRAINING_COLUMN] = [" ".join(mapping.get(w, w) for w in v.split()) if isinstance(v, str) else v
                                   for v in df[TRAINING_COLUMN]]
        specs = [s.model_copy(update={"name": mapping.get(s.name, s.name)}) for s in self.columns.values()]
        return Ratings(df, specs, self.rater)

    def convert(self, column: str, to: "Scale | str") -> "Ratings":
        """A new Ratings with ``column`` mapped explicitly onto another scale (its ``<column>_sd``
        companion, if any, is rescaled with it)."""
        self.values(column)
        spec = self.columns[column]
        target = get_scale(to)
        if spec.scale is None:
            raise RatingsError(f"column {column!r} has no scale to convert from")
        df = self.data.copy()
        df[column] = spec.scale.convert(df[column].to_numpy(dtype=float), to=target)
        updates = {column: target}
        sd = self.columns.get(f"{column}_sd")
        if sd is not None and sd.scale is not None and sd.scale.same_range(spec.scale.spread_scale()):
            # the spread of ratings scales with the range: keep the companion SD column consistent
            factor = (target.high - target.low) / (spec.scale.high - spec.scale.low)  # type: ignore[operator]
            df[sd.name] = df[sd.name].to_numpy(dtype=float) * factor
            updates[sd.name] = target.spread_scale()
        specs = [s.model_copy(update={"scale": updates[s.name]}) if s.name in updates else s for s in self.columns.values()]
        return Ratings(df, specs, self.rater)

    def to_categories(self, target: str, *, source: str | None = None) -> "Ratings":
        """A new Ratings whose ``source`` category columns are replaced by ``target``'s, mapped
        through the registered crosswalk (or chain of crosswalks) between the two sets.

        Mass with no target goes to a ``<target>_unmapped`` column (kind ``other``), never dropped.
        The crosswalk used is named in each new column's description.

        Parameters
        ----------
        target : str
            Category set to express the table in (e.g. ``"artemis9"`` for Affection's 9).
        source : str, optional
            Which of the table's category sets to map; needed only when it has several.
        """
        have = list(dict.fromkeys(s.taxonomy for s in self.columns.values() if s.kind == "category" and s.taxonomy))
        if source is None:
            if len(have) != 1:
                raise RatingsError(f"the table has category sets {have or 'none'}; name one as source= to map onto {target!r}")
            source = have[0]
        if source not in have:
            raise RatingsError(f"the table has no {source!r} category columns; it has {have or 'none'}")
        try:
            cw = get_crosswalk(source, target)
        except KeyError as exc:
            raise RatingsError(str(exc.args[0])) from None
        src_cols = list(cw.source_set.columns)
        missing = [c for c in src_cols if c not in self.columns]
        if missing:
            raise RatingsError(f"mapping {source!r} onto {target!r} needs all of its columns; missing {missing}")
        mapped = cw.apply(self.data[src_cols])
        unmapped = f"{target}_unmapped"
        mapped = mapped.rename(columns={"unmapped": unmapped})
        keep = [c for c in self.columns if c not in src_cols]
        clash = [c for c in mapped.columns if c in keep]
        if clash:
            raise RatingsError(f"columns {clash} already exist; drop them (select) before mapping onto {target!r}")
        why = f"mapped from {source} by crosswalk {cw.name}: {cw.source}"
        never = set(cw.unreachable)
        never_cols = {col for cat, col in zip(cw.target_set.categories, cw.target_set.columns, strict=True) if cat in never}
        if never:
            warnings.warn(
                f"crosswalk {cw.name}: {', '.join(sorted(never))} can never receive mass from {source} (no {source} "
                f"category maps to them), so those columns are 0 by construction, not a measurement; compare them "
                "with care, or rate with a rater whose categories cover them", UnreachableCategoryWarning, stacklevel=2)
        specs = [self.columns[c] for c in keep] + [
            ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=cw.target_set.name,
                       description=why + (f" (always 0: no {source} category maps here)" if c in never_cols else ""))
            for c in cw.target_set.columns
        ] + [ColumnSpec(name=unmapped, kind="other", description=f"{source} mass with no {target} counterpart ({cw.name})")]
        df = pd.concat([self.data.drop(columns=src_cols), mapped], axis=1)
        if TRAINING_COLUMN in df.columns:  # a model trained on the item made every mapped column
            names, targets = set(src_cols), " ".join(cw.target_set.columns)
            df[TRAINING_COLUMN] = [
                " ".join(dict.fromkeys(targets if w in names else w for w in v.split())) if isinstance(v, str) else v
                for v in df[TRAINING_COLUMN]
            ]
        return Ratings(df, specs, self.rater)

    # ---- IO ------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The table with ``item_id`` as the first column."""
        return self.data.reset_index()

    def metadata(self) -> dict[str, Any]:
        return {
            "format": "affectscope.ratings/1",
            "rater": self.rater.model_dump(mode="json", by_alias=True),
            "columns": [c.model_dump(mode="json") for c in self.columns.values()],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write CSV (plus ``.meta.json`` sidecar) or Parquet, by extension; atomic replace
        (:func:`affectscope.ratings.io.save_ratings`)."""
        from affectscope.ratings.io import save_ratings  # io builds on this module

        return save_ratings(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        scales: Mapping[str, "Scale | str"] | None = None,
        categories: str | None = None,
        id_column: str = "item_id",
    ) -> "Ratings":
        """Read a table written by :meth:`save`, or a plain CSV/Parquet file with its rating
        columns declared (:func:`affectscope.ratings.io.load_ratings`, which documents the parameters)."""
        from affectscope.ratings.io import load_ratings  # io builds on this module

        return load_ratings(path, scales=scales, categories=categories, id_column=id_column)



def from_records(
    records: Iterable[Mapping[str, Any]], columns: Iterable[ColumnSpec], rater: RaterInfo
) -> Ratings:
    """Build Ratings from dicts with ``item_id`` (and optionally ``path``/``error``/``warning``) plus
    rating values. The ``warning`` column is kept only when some item has one."""
    specs = list(columns)
    records = list(records)
    names = ["item_id", "path"] + [c.name for c in specs] + ["error"]
    if any(r.get("warning") for r in records):
        names.append("warning")
    frame = pd.DataFrame.from_records(records, columns=names)
    for c in specs:
        if c.kind != "text":
            frame[c.name] = pd.to_numeric(frame[c.name], errors="coerce").astype(float)
    if frame["path"].isna().all():
        frame = frame.drop(columns="path")
    return Ratings(frame, specs, rater)
