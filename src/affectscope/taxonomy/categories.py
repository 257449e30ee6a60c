"""Discrete emotion category sets used by norms, raters and studies.

Category names are kept exactly as their source spells them (Cowen & Keltner capitalise,
FER+ does not); :meth:`CategorySet.column` gives the stable column name used in rating tables.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator


class CategorySet(BaseModel):
    """An ordered set of emotion categories.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"ferplus8"``.
    categories : tuple of str
        Category names as the source spells them.
    source : str
        Citation.
    description : str
        One line on what the set is for.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    categories: tuple[str, ...]
    source: str
    description: str = ""

    @field_validator("categories")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        cols = [column_name(c) for c in v]
        if len(set(cols)) != len(cols):
            raise ValueError(f"category names collide as columns: {cols}")
        return v

    def __len__(self) -> int:
        return len(self.categories)

    def __contains__(self, category: object) -> bool:
        return isinstance(category, str) and column_name(category) in self.columns

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in rating tables (lower case, spaces as underscores)."""
        return tuple(column_name(c) for c in self.categories)

    def column(self, category: str) -> str:
        """The column name of one category; raises listing the valid names if unknown."""
        col = column_name(category)
        if col not in self.columns:
            raise KeyError(f"{category!r} is not in {self.name}; valid: {list(self.categories)}")
        return col


def column_name(category: str) -> str:
    """Normalise a category name to a column name: ``"Aesthetic Appreciation"`` -> ``"aesthetic_appreciation"``."""
    return re.sub(r"[^0-9a-z]+", "_", category.strip().lower()).strip("_")


_CK = "Cowen & Keltner (2017), PNAS 114:E7900"

CK34 = CategorySet(
    name="ck34",
    categories=(
        "Admiration", "Adoration", "Aesthetic Appreciation", "Amusement", "Anger", "Anxiety", "Awe",
        "Awkwardness", "Boredom", "Calmness", "Confusion", "Contempt", "Craving", "Disappointment",
        "Disgust", "Empathic Pain", "Entrancement", "Envy", "Excitement", "Fear", "Guilt", "Horror",
        "Interest", "Joy", "Nostalgia", "Pride", "Relief", "Romance", "Sadness", "Satisfaction",
        "Sexual Desire", "Surprise", "Sympathy", "Triumph",
    ),
    source=_CK,
    description="the 34 categories raters chose from for 2185 videos",
)

CK27 = CategorySet(
    name="ck27",
    categories=tuple(
        c for c in CK34.categories
        if c not in {"Contempt", "Disappointment", "Envy", "Guilt", "Pride", "Sympathy", "Triumph"}
    ),
    source=_CK + " (27 categories found to be reliably distinct)",
    description="the 27 distinct categories of the emotion space",
)

EMONET20 = CategorySet(
    name="emonet20",
    categories=(
        "Adoration", "Aesthetic Appreciation", "Amusement", "Anxiety", "Awe", "Boredom", "Confusion",
        "Craving", "Disgust", "Empathic Pain", "Entrancement", "Excitement", "Fear", "Horror",
        "Interest", "Joy", "Romance", "Sadness", "Sexual Desire", "Surprise",
    ),
    source="Kragel, Reddan, LaBar & Wager (2019), Sci Adv 5:eaaw4358 (EmoNet), a subset of " + _CK,
    description="EmoNet's 20 output categories",
)

ARTEMIS9 = CategorySet(
    name="artemis9",
    categories=(
        "amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness",
        "something else",
    ),
    source="Achlioptas et al. (2021) ArtEmis, CVPR; Achlioptas et al. (2023) Affection, ICCV",
    description="Mikels' 8 plus 'something else'",
)

MIKELS8 = CategorySet(
    name="mikels8",
    categories=("amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"),
    source="Mikels et al. (2005), Behav Res Methods 37:626",
    description="4 positive + 4 negative categories for IAPS pictures",
)

BASIC6 = CategorySet(
    name="basic6",
    categories=("happiness", "anger", "fear", "sadness", "disgust", "surprise"),
    source="Ekman (1992), Cogn Emot 6:169; as rated by Romeo & Testolin (2025)",
    description="six basic emotions",
)

BASIC7 = CategorySet(
    name="basic7",
    categories=BASIC6.categories + ("neutral",),
    source=BASIC6.source,
    description="six basic emotions plus neutral",
)

EMOTION6 = CategorySet(
    name="emotion6",
    categories=("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"),
    source="Peng, Sadovnik, Gallagher & Chen (2015), CVPR (Emotion6)",
    description="Emotion6's 7-way human distribution (basic six with 'joy', plus neutral)",
)

FERPLUS8 = CategorySet(
    name="ferplus8",
    categories=("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"),
    source="Barsoum, Zhang, Canton Ferrer & Zhang (2016), ICMI (FER+)",
    description="facial-expression categories, 10 annotators per face",
)

FER2013_7 = CategorySet(
    name="fer2013",
    categories=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    source="Goodfellow et al. (2013), ICONIP (FER2013); the order used by the `fer` package",
    description="FER2013 labels",
)

#: Every shipped category set by name.
CATEGORY_SETS: dict[str, CategorySet] = {
    s.name: s for s in (CK34, CK27, EMONET20, ARTEMIS9, MIKELS8, BASIC6, BASIC7, EMOTION6, FERPLUS8, FER2013_7)
}


def get_category_set(name: "str | CategorySet") -> CategorySet:
    """Look up a category set by name, listing the valid names if unknown."""
    if isinstance(name, CategorySet):
        return name
    try:
        return CATEGORY_SETS[name]
    except KeyError:
        raise KeyError(f"unknown category set {name!r}; valid: {sorted(CATEGORY_SETS)}") from None
