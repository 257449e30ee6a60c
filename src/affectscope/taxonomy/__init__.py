"""Vocabulary: rating scales, emotion category sets and crosswalks between them."""

from affectscope.taxonomy.categories import (
    ARTEMIS9,
    BASIC6,
    BASIC7,
    CATEGORY_SETS,
    CK27,
    CK34,
    EMONET20,
    EMOTION6,
    FER2013_7,
    FERPLUS8,
    MIKELS8,
    CategorySet,
    column_name,
    get_category_set,
)
from affectscope.taxonomy.crosswalks import CROSSWALKS, Crosswalk, get_crosswalk, register_crosswalk
from affectscope.taxonomy.scales import (
    APPROACH_9,
    COUNT,
    DEFAULT_SCALES,
    GAPED_AROUSAL,
    GAPED_VALENCE,
    INTENSITY_9,
    OASIS_AROUSAL,
    OASIS_VALENCE,
    PROBABILITY,
    SAM_AROUSAL,
    SAM_DOMINANCE,
    SAM_VALENCE,
    SCALES,
    Scale,
    ScaleError,
    get_scale,
)

__all__ = [
    "ARTEMIS9", "BASIC6", "BASIC7", "CATEGORY_SETS", "CK27", "CK34", "EMONET20", "EMOTION6", "FER2013_7",
    "FERPLUS8", "MIKELS8", "CategorySet", "column_name", "get_category_set", "CROSSWALKS", "Crosswalk",
    "get_crosswalk", "register_crosswalk", "APPROACH_9", "COUNT", "DEFAULT_SCALES", "GAPED_AROUSAL", "GAPED_VALENCE",
    "INTENSITY_9", "OASIS_AROUSAL", "OASIS_VALENCE", "PROBABILITY", "SAM_AROUSAL", "SAM_DOMINANCE",
    "SAM_VALENCE", "SCALES", "Scale", "ScaleError", "get_scale",
]
