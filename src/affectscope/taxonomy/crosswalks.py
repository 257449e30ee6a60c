"""Crosswalks: explicit, documented maps from one category set onto another.

A crosswalk is a matrix ``W`` (source categories x target categories) whose rows sum to 1
(mapped) or 0 (unmapped). Applying it to a probability table moves each source category's
mass onto its targets; mass of unmapped categories is reported in an ``unmapped`` column,
never silently dropped. Crosswalks compose: :func:`get_crosswalk` finds a chain when no
direct one exists.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from affectscope.taxonomy.categories import (
    ARTEMIS9,
    BASIC7,
    CK27,
    CK34,
    EMONET20,
    EMOTION6,
    FER2013_7,
    FERPLUS8,
    MIKELS8,
    CategorySet,
    get_category_set,
)


class Crosswalk(BaseModel):
    """A documented map between two category sets.

    Parameters
    ----------
    source_set, target_set : CategorySet
    mapping : dict
        ``{source category: {target category: weight}}``; each row's weights sum to at most 1
        (a row summing to 0.6 leaves 0.4 of that category's mass unmapped).
        Source categories not listed are unmapped.
    source : str
        Where the mapping comes from; ``"project mapping: ..."`` when it is our judgement.
    """

    model_config = ConfigDict(frozen=True)

    source_set: CategorySet
    target_set: CategorySet
    mapping: dict[str, dict[str, float]]
    source: str

    @model_validator(mode="after")
    def _check(self) -> "Crosswalk":
        for src, row in self.mapping.items():
            self.source_set.column(src)
            for dst in row:
                self.target_set.column(dst)
            total = sum(row.values())
            if any(w < 0 for w in row.values()) or not (0 < total <= 1 + 1e-9):
                raise ValueError(
                    f"crosswalk {self.name}: weights of {src!r} must be >= 0 and sum to at most 1 (got {total})"
                )
        return self

    @property
    def name(self) -> str:
        return f"{self.source_set.name}->{self.target_set.name}"

    @property
    def unmapped(self) -> tuple[str, ...]:
        """Source categories whose mass has no target."""
        return tuple(c for c in self.source_set.categories if c not in self.mapping)

    @property
    def unreachable(self) -> tuple[str, ...]:
        """Target categories no source category maps to: always 0 after :meth:`apply`."""
        w = self.matrix()
        return tuple(c for j, c in enumerate(self.target_set.categories) if w[:, j].sum() <= 0)

    def matrix(self) -> np.ndarray:
        """The (n_source, n_target) weight matrix."""
        w = np.zeros((len(self.source_set), len(self.target_set)))
        tcols = list(self.target_set.columns)
        scols = list(self.source_set.columns)
        for src, row in self.mapping.items():
            for dst, weight in row.items():
                w[scols.index(self.source_set.column(src)), tcols.index(self.target_set.column(dst))] = weight
        return w

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        """Map a table whose columns are the source set's columns onto the target set.

        Returns a table with the target columns plus ``unmapped`` (mass with no target).
        Missing source columns raise, listing them.
        """
        missing = [c for c in self.source_set.columns if c not in table.columns]
        if missing:
            raise KeyError(f"crosswalk {self.name} needs columns {missing}; the table has {list(table.columns)}")
        src = table[list(self.source_set.columns)].to_numpy(dtype=float)
        w = self.matrix()
        out = pd.DataFrame(src @ w, index=table.index, columns=list(self.target_set.columns))
        out["unmapped"] = src @ (1.0 - w.sum(axis=1))
        return out

    def then(self, other: "Crosswalk") -> "Crosswalk":
        """Compose two crosswalks (``self`` first)."""
        if other.source_set.name != self.target_set.name:
            raise ValueError(f"cannot chain {self.name} with {other.name}")
        w = self.matrix() @ other.matrix()
        mapping = {}
        for i, src in enumerate(self.source_set.categories):
            if w[i].sum() > 1e-12:
                mapping[src] = {other.target_set.categories[j]: float(v) for j, v in enumerate(w[i]) if v > 0}
        return Crosswalk(
            source_set=self.source_set,
            target_set=other.target_set,
            mapping=mapping,
            source=f"composed: {self.name} ({self.source}); then {other.name} ({other.source})",
        )


def _identity(a: CategorySet, b: CategorySet, rename: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    rename = rename or {}
    out = {}
    for c in a.categories:
        target = rename.get(c, c)
        if target in b:
            out[c] = {b.categories[b.columns.index(b.column(target))]: 1.0}
    return out


_CK_NOTE = "Cowen & Keltner (2017): the 27 are a subset of the 34; Kragel et al. (2019): EmoNet's 20 are a subset of the 27"

CROSSWALKS: dict[str, Crosswalk] = {}


def register_crosswalk(cw: Crosswalk) -> Crosswalk:
    """Add a crosswalk to the registry (replacing one with the same name)."""
    CROSSWALKS[cw.name] = cw
    return cw


for _cw in (
    Crosswalk(source_set=CK34, target_set=CK27, mapping=_identity(CK34, CK27), source=_CK_NOTE),
    Crosswalk(source_set=CK27, target_set=EMONET20, mapping=_identity(CK27, EMONET20), source=_CK_NOTE),
    Crosswalk(
        source_set=EMOTION6, target_set=BASIC7,
        mapping=_identity(EMOTION6, BASIC7, {"joy": "happiness"}),
        source="name identity; Emotion6 calls happiness 'joy' (Peng et al. 2015)",
    ),
    Crosswalk(
        source_set=BASIC7, target_set=EMOTION6,
        mapping=_identity(BASIC7, EMOTION6, {"happiness": "joy"}),
        source="name identity; Emotion6 calls happiness 'joy' (Peng et al. 2015)",
    ),
    Crosswalk(
        source_set=FERPLUS8, target_set=BASIC7, mapping=_identity(FERPLUS8, BASIC7),
        source="name identity (Barsoum et al. 2016); contempt has no basic-six counterpart and stays unmapped",
    ),
    Crosswalk(
        source_set=FER2013_7, target_set=FERPLUS8,
        mapping=_identity(FER2013_7, FERPLUS8, {"angry": "anger", "happy": "happiness", "sad": "sadness"}),
        source="FER+ relabelled the FER2013 images with the same emotions plus contempt (Barsoum et al. 2016)",
    ),
    Crosswalk(
        source_set=MIKELS8, target_set=ARTEMIS9, mapping=_identity(MIKELS8, ARTEMIS9),
        source="ArtEmis = Mikels' 8 + 'something else' (Achlioptas et al. 2021)",
    ),
    Crosswalk(
        source_set=ARTEMIS9, target_set=MIKELS8, mapping=_identity(ARTEMIS9, MIKELS8),
        source="ArtEmis = Mikels' 8 + 'something else' (Achlioptas et al. 2021); 'something else' stays unmapped",
    ),
    Crosswalk(
        source_set=BASIC7, target_set=ARTEMIS9,
        mapping={**_identity(BASIC7, ARTEMIS9), "happiness": {"contentment": 1.0},
                 "surprise": {"something else": 1.0}, "neutral": {"something else": 1.0}},
        source=(
            "project mapping: anger, disgust, fear and sadness by name; happiness->contentment (the basic set has "
            "one positive category, ArtEmis four: contentment is the general, low-arousal positive state, so the "
            "mass is not split, which would hand the argmax to a weaker negative category); surprise (valence "
            "ambiguous, absent from Mikels' set) and neutral->'something else'"
        ),
    ),
    Crosswalk(
        source_set=CK27, target_set=BASIC7,
        mapping={**_identity(CK27, BASIC7, {"Joy": "happiness"}), "Amusement": {"happiness": 1.0}, "Horror": {"fear": 1.0}},
        source=(
            "project mapping: same-named categories (Joy as happiness), plus Amusement->happiness and "
            "Horror->fear, which Cowen & Keltner (2017) place beside them in the emotion space; the rest stay unmapped"
        ),
    ),
    Crosswalk(
        source_set=CK27, target_set=ARTEMIS9,
        mapping={
            c: {
                {
                    "Amusement": "amusement", "Awe": "awe", "Excitement": "excitement", "Anger": "anger",
                    "Disgust": "disgust", "Fear": "fear", "Horror": "fear", "Sadness": "sadness",
                    "Calmness": "contentment", "Satisfaction": "contentment", "Relief": "contentment",
                }.get(c, "something else"): 1.0
            }
            for c in CK27.categories
        },
        source=(
            "project mapping: same-named categories; Horror->fear; Calmness, Satisfaction and Relief->contentment; "
            "every other category->'something else' (ArtEmis's own catch-all)"
        ),
    ),
):
    register_crosswalk(_cw)


def get_crosswalk(source: "str | CategorySet", target: "str | CategorySet") -> Crosswalk:
    """The direct crosswalk from ``source`` to ``target``, or the shortest chain of registered ones.

    Raises
    ------
    KeyError
        When no chain exists; the message lists the registered crosswalks.
    """
    s, t = get_category_set(source).name, get_category_set(target).name
    if s == t:
        cs = get_category_set(s)
        return Crosswalk(source_set=cs, target_set=cs, mapping=_identity(cs, cs), source="identity")
    edges: dict[str, list[Crosswalk]] = {}
    for cw in CROSSWALKS.values():
        edges.setdefault(cw.source_set.name, []).append(cw)
    queue: deque[tuple[str, list[Crosswalk]]] = deque([(s, [])])
    seen = {s}
    while queue:
        node, path = queue.popleft()
        for cw in edges.get(node, []):
            nxt = cw.target_set.name
            if nxt in seen:
                continue
            if nxt == t:
                chain = path + [cw]
                out = chain[0]
                for step in chain[1:]:
                    out = out.then(step)
                return out
            seen.add(nxt)
            queue.append((nxt, path + [cw]))
    raise KeyError(f"no crosswalk from {s!r} to {t!r}; registered: {sorted(CROSSWALKS)}")
