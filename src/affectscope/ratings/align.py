"""Pairing two rating tables: the items they share, matched by id, file name or stem, and what did
not match."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from affectscope.ratings.table import Ratings, RatingsError

KeyMode = Literal["item_id", "name", "stem"]


@dataclass
class Alignment:
    """Two Ratings restricted to their shared items, in the same order, and what did not match."""

    left: Ratings
    right: Ratings
    only_left: list[str] = field(default_factory=list)
    only_right: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.left)

    def summary(self) -> str:
        parts = [f"{self.n} items matched"]
        for side, ids, r in (("left", self.only_left, self.left), ("right", self.only_right, self.right)):
            if ids:
                ex = ", ".join(ids[:3])
                parts.append(f"{len(ids)} only in {side} ({r.rater.name}; e.g. {ex})")
        return "; ".join(parts)


def match_key(item_id: str, mode: KeyMode) -> str:
    """The id used for matching under ``mode`` (see :func:`align`)."""
    if mode == "item_id":
        return item_id
    name = item_id.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if mode == "stem" and "." in name else name


def align(left: Ratings, right: Ratings, *, key: KeyMode = "item_id", strict: bool = False) -> Alignment:
    """Restrict two Ratings to their shared items, in ``left``'s order.

    Parameters
    ----------
    left, right : Ratings
    key : {"item_id", "name", "stem"}, default "item_id"
        How ids are matched: exactly; by file name (``a/b.jpg`` ~ ``b.jpg``); by file stem
        (``b.jpg`` ~ ``b``). The aligned tables keep ``left``'s ids.
    strict : bool, default False
        Raise instead of reporting items present on one side only.

    Raises
    ------
    RatingsError
        When nothing matches (with examples of both sides' ids and a hint), when a key mode makes
        ids collide, or, with ``strict``, when any item is unmatched.
    """
    if key not in ("item_id", "name", "stem"):
        raise RatingsError(f"key must be one of 'item_id', 'name', 'stem', not {key!r}")
    maps = []
    for r in (left, right):
        m: dict[str, str] = {}
        for i in r.item_ids:
            k = match_key(i, key)
            if k in m:
                raise RatingsError(f"key={key!r} makes ids {m[k]!r} and {i!r} of {r.rater.name} collide; use a finer key")
            m[k] = i
        maps.append(m)
    lmap, rmap = maps
    shared = [k for k in lmap if k in rmap]
    only_left = [lmap[k] for k in lmap if k not in rmap]
    only_right = [rmap[k] for k in rmap if k not in lmap]
    if not shared:
        raise RatingsError(
            f"no items in common between {left.rater.name} (e.g. {left.item_ids[:3]}) and "
            f"{right.rater.name} (e.g. {right.item_ids[:3]}) with key={key!r}; "
            "if one side has paths or extensions the other lacks, try key='name' or key='stem'"
        )
    if strict and (only_left or only_right):
        raise RatingsError("strict alignment failed: " + Alignment(left, right, only_left, only_right).summary())
    lsub = left.subset([lmap[k] for k in shared])
    rdata = right.data.loc[[rmap[k] for k in shared]].copy()
    rdata.index = pd.Index([lmap[k] for k in shared], name="item_id")
    rsub = Ratings(rdata, right.columns.values(), right.rater)
    return Alignment(lsub, rsub, only_left, only_right)
