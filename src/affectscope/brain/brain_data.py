"""Brain data files: responses per item (voxels, ROIs, electrodes), their repeats, or an RDM.

Formats (the item ids are those of ``affectscope rate`` / ``features``):

- ``.csv`` / ``.tsv``: an ``item_id`` column and one numeric column per target; a ``repeat`` column
  makes each row one measurement (every item needs the same repeats), and the responses are their
  mean. A table whose columns are its item ids (square, ``item_id`` first) is an RDM.
- ``.npz``: ``data`` ``(items, targets)`` or ``repeats`` ``(repeats, items, targets)``, or ``rdm``
  ``(items, items)``; optional ``item_ids`` and ``targets``. Without ``item_ids`` the rows are in the
  activations' item order.
- ``.npy``: an ``(items, targets)`` or ``(repeats, items, targets)`` array, rows in the activations' order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class BrainDataError(ValueError):
    """A brain data file that cannot be read as asked (the message says why and the fix)."""


@dataclass
class BrainData:
    """Responses per item, or an RDM.

    Attributes
    ----------
    item_ids : list of str or None
        The rows' items (None: the activations' order).
    data : numpy.ndarray ``(items, targets)`` or None
        Responses (the mean of ``repeats`` where there are repeats); None for an RDM.
    repeats : numpy.ndarray ``(repeats, items, targets)`` or None
    targets : list of str
    rdm : numpy.ndarray ``(items, items)`` or None
    columns : dict of str to numpy.ndarray
        Non-numeric or extra per-item columns of a table (e.g. ``run`` for ``--groups``).
    """

    item_ids: list[str] | None
    data: np.ndarray | None
    repeats: np.ndarray | None
    targets: list[str]
    rdm: np.ndarray | None = None
    columns: dict[str, np.ndarray] | None = None

    @property
    def is_rdm(self) -> bool:
        return self.rdm is not None

    def item_order(self, default: Sequence[str]) -> list[str]:
        """The rows' item ids: their own, or ``default`` (the activations' items) for data without
        ids, which must then have one row per item."""
        if self.item_ids is not None:
            return list(self.item_ids)
        n = len(self.rdm) if self.rdm is not None else len(self.data)  # type: ignore[arg-type]
        if n != len(default):
            raise BrainDataError(f"the brain data have {n} rows and no item ids, the activations {len(default)} items; "
                                 "give item_ids (an .npz key or a CSV's item_id column)")
        return list(default)


def load_brain(path: str | os.PathLike[str], *, group_column: str | None = None) -> BrainData:
    """Read a brain data file (see the module docstring); ``group_column`` is kept out of the targets."""
    path = Path(path)
    if not path.is_file():
        raise BrainDataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _from_arrays(np.load(path, allow_pickle=False), None, None, None, path)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            ids = [str(x) for x in z["item_ids"]] if "item_ids" in keys else None
            targets = [str(x) for x in z["targets"]] if "targets" in keys else None
            if "rdm" in keys:
                rdm = np.asarray(z["rdm"], float)
                _check_rdm(rdm, ids, path)
                return BrainData(ids, None, None, [], rdm)
            if "repeats" in keys:
                return _from_arrays(z["repeats"], ids, targets, None, path)
            if "data" in keys:
                return _from_arrays(z["data"], ids, targets, None, path)
        raise BrainDataError(f"{path}: an .npz of brain data holds 'data' (items x targets), 'repeats' "
                             f"(repeats x items x targets) or 'rdm' (items x items); it has {sorted(keys)}")
    if suffix in (".csv", ".tsv"):
        return _from_table(path, "\t" if suffix == ".tsv" else ",", group_column)
    raise BrainDataError(f"{path}: brain data are .csv, .tsv, .npz or .npy files; got {suffix or 'no suffix'!r}")


def _check_rdm(rdm: np.ndarray, ids: list[str] | None, path: Path) -> None:
    if rdm.ndim != 2 or rdm.shape[0] != rdm.shape[1]:
        raise BrainDataError(f"{path}: an RDM is square (items x items); got shape {rdm.shape}")
    if ids is not None and len(ids) != len(rdm):
        raise BrainDataError(f"{path}: {len(ids)} item_ids for an RDM of {len(rdm)} items")
    if not np.allclose(rdm, rdm.T, equal_nan=True) or not np.allclose(np.diag(rdm), 0):
        raise BrainDataError(f"{path}: an RDM must be symmetric with zeros on the diagonal")


def _from_arrays(arr: np.ndarray, ids: list[str] | None, targets: list[str] | None, columns: Any, path: Path) -> BrainData:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 2:
        data, repeats = a, None
    elif a.ndim == 3:
        if a.shape[0] < 2:
            raise BrainDataError(f"{path}: repeats need at least 2 measurements; got shape {a.shape}")
        data, repeats = a.mean(axis=0), a
    else:
        raise BrainDataError(f"{path}: brain data are items x targets or repeats x items x targets; got shape {a.shape}")
    if ids is not None and len(ids) != data.shape[0]:
        raise BrainDataError(f"{path}: {len(ids)} item_ids for {data.shape[0]} rows")
    names = targets if targets is not None else [f"t{j}" for j in range(data.shape[1])]
    if len(names) != data.shape[1]:
        raise BrainDataError(f"{path}: {len(names)} target names for {data.shape[1]} targets")
    return BrainData(ids, data, repeats, names, None, columns)


def _from_table(path: Path, sep: str, group_column: str | None) -> BrainData:
    import pandas as pd

    df = pd.read_csv(path, sep=sep)
    if "item_id" not in df.columns:
        raise BrainDataError(f"{path}: brain tables need an 'item_id' column (the stimuli's ids); columns are {list(df.columns)[:8]}")
    df["item_id"] = df["item_id"].astype(str)
    rest = [c for c in df.columns if c != "item_id"]
    if rest and len(rest) == len(df) and set(map(str, rest)) == set(df["item_id"]):  # a square table: an RDM
        ids = list(df["item_id"])
        rdm = df.set_index("item_id").loc[ids, ids].to_numpy(float)
        _check_rdm(rdm, ids, path)
        return BrainData(ids, None, None, [], rdm)
    if group_column is not None and group_column not in df.columns:
        raise BrainDataError(f"{path}: no column {group_column!r} for the groups; columns are {list(df.columns)[:8]}")
    keep_out = {"item_id", "repeat", *([group_column] if group_column else [])}
    targets = [c for c in df.columns if c not in keep_out and pd.api.types.is_numeric_dtype(df[c])]
    skipped = [c for c in df.columns if c not in keep_out and c not in targets]
    if not targets:
        raise BrainDataError(f"{path}: no numeric target columns besides item_id{', repeat' if 'repeat' in df else ''}")
    if skipped:
        raise BrainDataError(f"{path}: columns {skipped[:5]} are not numeric; brain tables hold item_id, an optional "
                             "'repeat' column, a --groups column, and numeric targets only")
    if "repeat" not in df.columns:
        if df["item_id"].duplicated().any():
            dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
            raise BrainDataError(f"{path}: item {dup!r} has several rows; add a 'repeat' column if they are repeated measurements")
        cols = {group_column: df[group_column].to_numpy()} if group_column else None
        return BrainData(list(df["item_id"]), df[targets].to_numpy(float), None, targets, None, cols)
    ids = list(dict.fromkeys(df["item_id"]))
    reps = sorted(df["repeat"].unique(), key=str)
    counts = df.groupby("item_id")["repeat"].nunique()
    if (counts != len(reps)).any() or len(df) != len(ids) * len(reps):
        bad = counts[counts != len(reps)].index[:3].tolist()
        raise BrainDataError(f"{path}: every item needs each of the {len(reps)} repeats once; e.g. {bad or 'duplicated rows'} do not")
    cube = np.stack([df[df["repeat"] == r].set_index("item_id").loc[ids, targets].to_numpy(float) for r in reps])
    cols = None
    if group_column:
        cols = {group_column: df.drop_duplicates("item_id").set_index("item_id").loc[ids, group_column].to_numpy()}
    out = _from_arrays(cube, ids, targets, cols, path)
    return out
