"""Network activations of stimuli: named layers as arrays, with the rows' item ids, frames and times.

An :class:`Activations` object is data (arrays + descriptors, as rsatoolbox's datasets): one row per
picture, and for a video one row per sampled frame plus a row holding the mean over its frames
(``frame == -1``, as for a picture). :meth:`Activations.items` keeps the one-row-per-stimulus view
that encoding models and RSA read. Files: ``.npz``, ``.parquet`` (one list column per layer) and
``.h5`` / ``.hdf5`` (a dataset per layer), each holding the same content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectscope._files import atomic_write

#: File formats by suffix.
FORMATS = (".npz", ".parquet", ".h5", ".hdf5")
#: ``frame`` of a stimulus' own row: a picture, or the mean over a video's sampled frames.
ITEM_ROW = -1


class ActivationsError(ValueError):
    """An activations file or object that cannot be used as asked (the message says why and the fix)."""


@dataclass
class Activations:
    """Activations of named layers.

    Attributes
    ----------
    item_ids : numpy.ndarray of str, ``(n_rows,)``
        The stimulus of each row (the item ids of ``affectscope rate``).
    frame : numpy.ndarray of int, ``(n_rows,)``
        The video frame index of a row, or :data:`ITEM_ROW` for a stimulus' own row.
    time : numpy.ndarray of float, ``(n_rows,)``
        Seconds into the video (NaN for stimulus rows).
    layers : dict of str to numpy.ndarray
        ``(n_rows, width)`` float32 per layer, in the order given at extraction.
    errors : dict of str to str
        Stimuli that gave no activations, with the reason.
    meta : dict
        Rater, its parameters and fingerprint, and what produced the file.
    """

    item_ids: np.ndarray
    frame: np.ndarray
    time: np.ndarray
    layers: dict[str, np.ndarray]
    errors: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.item_ids = np.asarray(self.item_ids, dtype=object).astype(str)
        self.frame = np.asarray(self.frame, dtype=np.int64)
        self.time = np.asarray(self.time, dtype=np.float64)
        n = len(self.item_ids)
        if len(self.frame) != n or len(self.time) != n:
            raise ActivationsError(f"item_ids, frame and time must have one entry per row ({n}, {len(self.frame)}, {len(self.time)})")
        for name, a in self.layers.items():
            if a.ndim != 2 or len(a) != n:
                raise ActivationsError(f"layer {name!r} has shape {a.shape}; expected ({n}, width): one row per row of item_ids")

    @property
    def widths(self) -> dict[str, int]:
        """Units per layer."""
        return {k: int(v.shape[1]) for k, v in self.layers.items()}

    def items(self) -> "Activations":
        """One row per stimulus (pictures, and each video's frame mean), in extraction order."""
        keep = self.frame == ITEM_ROW
        return Activations(self.item_ids[keep], self.frame[keep], self.time[keep],
                           {k: v[keep] for k, v in self.layers.items()}, dict(self.errors), dict(self.meta))

    def layer(self, name: str) -> np.ndarray:
        """One layer's ``(n_rows, width)`` array; the error lists the layers there are."""
        if name not in self.layers:
            raise ActivationsError(f"no layer {name!r}; these activations have {list(self.layers)}")
        return self.layers[name]

    def select(self, item_ids: Sequence[str]) -> "Activations":
        """The stimulus rows of ``item_ids``, in that order (every id must be present)."""
        own = self.items()
        pos = {k: i for i, k in enumerate(own.item_ids)}
        missing = [k for k in item_ids if k not in pos]
        if missing:
            why = [f"{k}: {self.errors[k]}" for k in missing[:3] if k in self.errors]
            raise ActivationsError(f"{len(missing)} items have no activations (e.g. {missing[:3]})"
                                   + (f"; they failed: {why}" if why else "") + ". Fix: extract them, or leave them out of the brain data")
        idx = np.array([pos[k] for k in item_ids], dtype=int)
        return Activations(own.item_ids[idx], own.frame[idx], own.time[idx], {k: v[idx] for k, v in own.layers.items()},
                           {}, dict(self.meta))

    # ---- files --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``.npz``, ``.parquet`` or ``.h5`` (by suffix), atomically."""
        path = Path(path)
        fmt = _format(path)
        meta = json.dumps({"meta": self.meta, "errors": self.errors, "layers": list(self.layers)})
        if fmt == ".npz":
            def write(fh: Any) -> None:
                np.savez(fh, item_ids=self.item_ids.astype(str), frame=self.frame, time=self.time, meta=np.array(meta),
                         **{f"layer:{k}": v for k, v in self.layers.items()})
        elif fmt == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            cols = {"item_id": pa.array(self.item_ids.tolist()), "frame": pa.array(self.frame), "time": pa.array(self.time)}
            for k, v in self.layers.items():
                flat = pa.array(np.ascontiguousarray(v, np.float32).ravel())
                cols[k] = pa.FixedSizeListArray.from_arrays(flat, v.shape[1])
            table = pa.table(cols).replace_schema_metadata({b"affectscope.activations": meta.encode()})

            def write(fh: Any) -> None:
                pq.write_table(table, fh)
        else:
            import h5py

            def write(fh: Any) -> None:
                with h5py.File(fh, "w") as f:
                    f.attrs["affectscope.activations"] = meta
                    f.create_dataset("item_ids", data=np.array(self.item_ids.tolist(), dtype=h5py.string_dtype()))
                    f.create_dataset("frame", data=self.frame)
                    f.create_dataset("time", data=self.time)
                    g = f.create_group("layers")
                    for k, v in self.layers.items():
                        g.create_dataset(k, data=v)
        atomic_write(path, write, suffix=fmt)  # np.savez adds .npz to a name without it
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Activations":
        """Read a file written by :meth:`save`."""
        path = Path(path)
        fmt = _format(path)
        if not path.is_file():
            raise ActivationsError(f"{path}: no such file. Fix: write it with `affectscope features STIMULI -o {path.name}`")
        try:
            if fmt == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    info = json.loads(str(z["meta"]))
                    layers = {k: z[f"layer:{k}"] for k in info["layers"]}
                    return cls(z["item_ids"], z["frame"], z["time"], layers, info["errors"], info["meta"])
            if fmt == ".parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(path)
                info = json.loads(table.schema.metadata[b"affectscope.activations"])
                layers = {}
                for k in info["layers"]:
                    col = table.column(k).combine_chunks()
                    layers[k] = col.flatten().to_numpy().reshape(len(table), col.type.list_size).astype(np.float32)
                return cls(np.array(table.column("item_id").to_pylist(), dtype=object), table.column("frame").to_numpy(),
                           table.column("time").to_numpy(), layers, info["errors"], info["meta"])
            import h5py

            with h5py.File(path, "r") as f:
                info = json.loads(f.attrs["affectscope.activations"])
                layers = {k: f["layers"][k][()] for k in info["layers"]}
                ids = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in f["item_ids"][()]], dtype=object)
                return cls(ids, f["frame"][()], f["time"][()], layers, info["errors"], info["meta"])
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ActivationsError(f"{path}: not an affectscope activations file ({type(exc).__name__}: {exc}). "
                                   "Fix: write it with `affectscope features`") from None


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ActivationsError(f"{path}: activations are written as {', '.join(FORMATS)}; got {suffix or 'no suffix'!r}")
    return suffix


def stack_rows(rows: Mapping[str, Sequence[tuple[int, float, dict[str, np.ndarray]]]], layer_names: Sequence[str],
               errors: Mapping[str, str], meta: Mapping[str, Any]) -> Activations:
    """An :class:`Activations` from ``{item_id: [(frame, time, {layer: vector}), ...]}`` in item order."""
    ids, frames, times = [], [], []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in layer_names}
    for item, item_rows in rows.items():
        for frame, t, vecs in item_rows:
            ids.append(item)
            frames.append(frame)
            times.append(t)
            for k in layer_names:
                parts[k].append(np.asarray(vecs[k], np.float32))
    layers = {k: (np.stack(v) if v else np.zeros((0, 0), np.float32)) for k, v in parts.items()}
    return Activations(np.array(ids, dtype=object), np.array(frames, dtype=np.int64), np.array(times, dtype=np.float64),
                       layers, dict(errors), dict(meta))
