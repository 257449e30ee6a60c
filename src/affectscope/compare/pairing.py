"""Pairing a rater's table with the humans': shared items, matching scales, no silent drops; which
compared items a rater was trained on; clusters of items (for clustered CIs and nulls)."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from affectscope.compare.errors import CompareError, InSampleWarning
from affectscope.ratings import TRAINING_COLUMN, Alignment, KeyMode, Ratings, align

OnMissing = Literal["raise", "drop"]


@dataclass
class Paired:
    """Aligned tables plus an account of everything left out."""

    alignment: Alignment
    dropped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def left(self) -> Ratings:
        return self.alignment.left

    @property
    def right(self) -> Ratings:
        return self.alignment.right


def pair(rater: Ratings, humans: Ratings, *, key: KeyMode = "item_id", on_missing: OnMissing = "raise") -> Paired:
    """Align on shared items. Items only on one side and items the rater failed on raise a
    :class:`CompareError` unless ``on_missing="drop"``, which records them in ``dropped``."""
    if on_missing not in ("raise", "drop"):
        raise CompareError(f"on_missing must be 'raise' or 'drop', not {on_missing!r}")
    al = align(rater, humans, key=key)
    failed = list(al.left.errors.index)
    dropped = {k: v for k, v in (("only_rater", al.only_left), ("only_humans", al.only_right), ("rater_failed", failed)) if v}
    if dropped and on_missing == "raise":
        parts = [f"{len(v)} {k.replace('_', ' ')} (e.g. {', '.join(v[:3])})" for k, v in dropped.items()]
        raise CompareError(
            f"{al.n} items shared, but " + "; ".join(parts)
            + ". Pass on_missing='drop' (CLI: --drop-missing) to compare the shared, successfully rated items only"
        )
    if failed:
        failed_set = set(failed)
        keep = [i for i in al.left.item_ids if i not in failed_set]
        al = Alignment(al.left.subset(keep), al.right.subset(keep), al.only_left, al.only_right)
    return Paired(al, dropped)


def check_scales(rater: Ratings, humans: Ratings, column: str) -> None:
    """Raise unless ``column`` has the same dimension and range on both sides."""
    a, b = rater.columns[column].scale, humans.columns[column].scale
    if a is None or b is None:
        raise CompareError(f"column {column!r} has no declared scale on one side")
    if not a.same_range(b):
        raise CompareError(
            f"{column!r}: the rater uses {a.label!r}, the humans {b.label!r}. Convert one explicitly first: "
            f"humans.convert({column!r}, '{a.dimension}:{a.name}') (CLI: --to-scale {column}={a.dimension}:{a.name})"
        )


def finite_pairs(x: np.ndarray, y: np.ndarray, column: str, ids: list[str], on_missing: OnMissing) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Drop (or refuse) items with NaN on either side; returns x, y and the dropped ids."""
    bad = np.isnan(x) | np.isnan(y)
    dropped = [ids[i] for i in np.flatnonzero(bad)]
    if dropped and on_missing == "raise":
        raise CompareError(
            f"{column!r}: {len(dropped)} items have NaN values (e.g. {dropped[:3]}); "
            "fix them or pass on_missing='drop' to leave them out (they are then counted in the result)"
        )
    return x[~bad], y[~bad], dropped


@dataclass(frozen=True)
class TrainingOverlap:
    """Compared items that the rater's model was trained on.

    Attributes
    ----------
    what : str
        The compared output(s), for messages.
    n : int
        Items compared.
    n_training : int
        Of them, items the model producing ``what`` was trained on.
    cross_validated : bool
        The rater gave those items their cross-validated (out-of-fold) predictions
        (the image rater's ``training_items="cv"``), so they are fair to compare.
    cv_available : bool
        The rater could have given cross-validated predictions (it has a ``training_items`` parameter).
    """

    what: str
    n: int
    n_training: int
    cross_validated: bool
    cv_available: bool = False

    def note(self) -> str | None:
        """A line for summaries, or None when no compared item is a training item."""
        if not self.n_training:
            return None
        share = f"{self.n_training} of {self.n} compared items were in the training data of the rater's {self.what} model"
        if self.cross_validated:
            return f"note: {share}; they carry its cross-validated predictions (training_items=cv)"
        fix = ("Rate with -p training_items=cv for cross-validated values, or compare on items the rater was not trained on"
               if self.cv_available else "Compare on items the rater was not trained on")
        return f"warning: {share}: their ratings are in-sample and overstate agreement on new items. {fix}"


def training_overlap(rater: Ratings, ids: Sequence[str], columns: Sequence[str], what: str) -> TrainingOverlap:
    """How many of ``ids`` (items of ``rater``) were training items for any of ``columns``; warns
    (:class:`InSampleWarning`) when their ratings are in-sample."""
    n_training = 0
    if TRAINING_COLUMN in rater.data.columns and ids:
        wanted = set(columns)
        flags = rater.data.loc[list(ids), TRAINING_COLUMN]
        n_training = int(sum(bool(wanted & set(str(v).split())) for v in flags if isinstance(v, str)))
    cv = str(rater.rater.params.get("training_items", "")) == "cv"
    out = TrainingOverlap(what, len(ids), n_training, cv, "training_items" in rater.rater.params)
    if n_training and not cv:
        warnings.warn(out.note() or "", InSampleWarning, stacklevel=3)
    return out


def item_clusters(p: Any, groups: "str | Mapping[str, Any] | Sequence[Any] | None") -> tuple[dict[str, Any] | None, str | None]:
    """``{paired item id: cluster}`` of a :class:`Paired` and a note saying what the CIs resample, or
    ``(None, None)``. ``groups``: ``"auto"`` (the human table's ``theme`` column where it has one,
    else the video of frame items ``"<video>#<frame>"``, see :func:`frame_clusters`), a column of the
    human (else the rater's) table, a mapping ``{item_id: cluster}``, an array in the paired order,
    or ``None``."""
    if groups is None:
        return None, None
    ids = p.left.item_ids
    if isinstance(groups, str):
        name = groups
        if groups == "auto":
            if "theme" not in p.right.data.columns:
                return frame_clusters(ids)
            name = "theme"
        for side, table in (("human", p.right), ("rater", p.left)):
            if name in table.data.columns:
                cluster = dict(zip(ids, table.data[name].to_numpy(), strict=True))
                missing = [i for i, g in cluster.items() if g is None or (isinstance(g, float) and np.isnan(g))]
                if missing:
                    raise CompareError(f"the groups column {name!r} is empty for {len(missing)} item(s), e.g. {missing[:3]}; "
                                       "fill it, or give groups=None (CLI: --groups none) to resample items")
                n = len(set(map(str, cluster.values())))
                how = "by default " if groups == "auto" else ""
                return cluster, (f"resampling moves whole clusters {how}({n} {name} values of the {side} table over {len(ids)} items; "
                                 "groups=None / --groups none resamples items)")
        cols = sorted(set(p.right.data.columns) | set(p.left.data.columns))
        raise CompareError(f"no column {name!r} to group items by; columns are {cols} (CLI: --groups COLUMN or --groups none)")
    return given_clusters(ids, groups)


def given_clusters(ids: Sequence[str], groups: "Mapping[str, Any] | Sequence[Any]") -> tuple[dict[str, Any], str]:
    """``{item id: cluster}`` from a mapping or from an array in the order of ``ids``, and the note
    saying what the resampling moves; every item needs a cluster."""
    if isinstance(groups, Mapping):
        cluster = {i: groups.get(i) for i in ids}
    else:
        values = list(groups)
        if len(values) != len(ids):
            raise CompareError(f"groups has {len(values)} entries for {len(ids)} items; give one cluster per item, in item order")
        cluster = dict(zip(ids, values, strict=True))
    missing = [i for i, g in cluster.items() if g is None]
    if missing:
        raise CompareError(f"groups gives no cluster for {len(missing)} item(s), e.g. {missing[:3]}")
    return cluster, f"resampling moves whole clusters ({len(set(map(str, cluster.values())))} given groups over {len(ids)} items)"


def cluster_members(groups: Sequence[object] | np.ndarray) -> list[np.ndarray]:
    """The item indices of each cluster (clusters in sorted order of their codes as strings)."""
    _, codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    return [np.flatnonzero(codes == g) for g in range(codes.max() + 1)] if len(codes) else []


#: A frame item of a video, as ``train --frames`` names them: ``"<video id>#<frame index>"``.
FRAME_ID = re.compile(r"^(?P<video>.+)#(?P<frame>\d+)$")


def frame_clusters(ids: Sequence[str]) -> tuple[dict[str, Any] | None, str | None]:
    """Frames of one clip as a cluster: ``{item: video}`` when some video has two or more frame
    items (``"clip.mp4#3"``); other items are their own cluster. ``(None, None)`` otherwise."""
    video = {i: (m.group("video") if (m := FRAME_ID.match(str(i))) else i) for i in ids}
    counts = Counter(video.values())
    if not any(n > 1 for n in counts.values()):
        return None, None
    return video, (f"resampling moves whole clips by default ({len(counts)} videos and pictures over {len(ids)} items, "
                   "frames '<video>#<frame>' grouped by video; groups=None / --groups none resamples items)")
