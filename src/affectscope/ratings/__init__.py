"""Rating tables: one schema for every rater and every set of human norms.

:mod:`~affectscope.ratings.table` holds :class:`Ratings` and its descriptors,
:mod:`~affectscope.ratings.io` its files, :mod:`~affectscope.ratings.align` the pairing of two tables.
"""

from affectscope.ratings.align import Alignment, KeyMode, align, match_key
from affectscope.ratings.io import META_KEY, load_ratings, save_ratings, sidecar_path
from affectscope.ratings.table import (
    RESERVED,
    STATUS_COLUMNS,
    TRAINING_COLUMN,
    ColumnKind,
    ColumnSpec,
    RaterInfo,
    Ratings,
    RatingsError,
    UnreachableCategoryWarning,
    from_records,
)

__all__ = [
    "META_KEY", "RESERVED", "STATUS_COLUMNS", "TRAINING_COLUMN", "Alignment", "ColumnKind", "ColumnSpec", "KeyMode",
    "RaterInfo", "Ratings", "RatingsError", "UnreachableCategoryWarning", "align", "from_records", "load_ratings",
    "match_key", "save_ratings", "sidecar_path",
]
