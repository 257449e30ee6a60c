"""A rater that looks ratings up in a file: published model outputs, another lab's norms,
ratings made elsewhere. It lets file-based ratings go through the same run, store and report
as computed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from affectscope._params import InstanceOf, NoneOr, Options, Text
from affectscope.raters.base import Rater
from affectscope.raters.registry import register
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings, RatingsError, match_key
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import SAM_VALENCE


@register("table")
class TableRater(Rater):
    """Ratings read from a CSV/Parquet file: written by affectscope, or plain with its columns declared.

    Parameters
    ----------
    file : str
        The ratings file.
    key : {"item_id", "name", "stem"}, default "item_id"
        How stimulus ids are matched to the file's ids (see :func:`affectscope.ratings.align`).
    scales : dict, optional
        Plain files (no affectscope metadata): ``{column: scale}``, e.g.
        ``-p scales='{"valence": "valence:1-7"}'``.
    categories : str, default ""
        Plain files: a category set whose columns the file holds as shares (``-p categories=emotion6``).
    id_column : str, default "item_id"
        Plain files: the id column.
    """

    family = "file"
    summary = "ratings looked up in a CSV/Parquet file (published outputs, norms made elsewhere)"
    media = frozenset({"image", "video", "unknown"})
    parameter_constraints = {
        "file": Text(),
        "key": Options(("item_id", "name", "stem")),
        "scales": NoneOr(InstanceOf((dict,), "a mapping of column names to scales, e.g. -p scales='{\"valence\": \"valence:1-7\"}'")),
        "categories": Text(),
        "id_column": Text(nonempty=True),
    }

    def __init__(self, *, file: str = "", key: str = "item_id", scales: dict[str, str] | None = None,
                 categories: str = "", id_column: str = "item_id") -> None:
        self.file = file
        self.key = key
        self.scales = scales
        self.categories = categories
        self.id_column = id_column
        self._table: Ratings | None = None
        self._index: dict[str, str] | None = None

    def _load(self) -> tuple[Ratings, dict[str, str]]:
        if self._table is None or self._index is None:
            self.validate_params()
            if not self.file:
                raise RatingsError("the table rater needs file=PATH (a ratings CSV or Parquet file)")
            try:
                self._table = Ratings.load(self.file, scales=self.scales, categories=self.categories or None,
                                           id_column=self.id_column)
            except RatingsError as exc:
                raise RatingsError(f"{exc}. With the table rater these are parameters: -p id_column=NAME, "
                                   "-p scales='{\"valence\": \"valence:1-7\"}', -p categories=emotion6") from None
            self._index = {match_key(i, self.key): i for i in self._table.item_ids}  # type: ignore[arg-type]
        return self._table, self._index

    def outputs(self) -> list[ColumnSpec]:
        return list(self._load()[0].columns.values())

    @classmethod
    def describe_outputs(cls) -> list[str]:
        return ["the columns of the given file"]

    def rate_one(self, stimulus: Stimulus) -> dict[str, float]:
        table, index = self._load()
        item = index.get(match_key(stimulus.item_id, self.key))  # type: ignore[arg-type]
        if item is None:
            raise KeyError(f"no row for this item in {self.file} (matched by key={self.key!r})")
        row = table.data.loc[item]
        if "error" in table.data.columns and isinstance(row["error"], str):
            raise RuntimeError(f"the file records an error for this item: {row['error']}")
        return {c: row[c] for c in table.columns}

    @classmethod
    def contract_params(cls, workdir: Path, stimuli: StimulusSet | None = None) -> dict[str, Any]:
        import pandas as pd

        ids = stimuli.item_ids if stimuli is not None else ["a.png"]
        frame = pd.DataFrame({"item_id": ids, "valence": [1.0 + (i % 9) for i in range(len(ids))]})
        path = workdir / "table_rater_input.csv"
        Ratings(frame, [ColumnSpec(name="valence", scale=SAM_VALENCE)], RaterInfo(name="fixture", kind="file")).save(path)
        return {"file": str(path)}
