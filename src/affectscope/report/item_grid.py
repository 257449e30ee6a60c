"""A self-contained HTML page of one ratings table: thumbnails embedded, no network needed.

The full report (plots, comparisons, videos) builds on this page.
"""

from __future__ import annotations

import json
import math
from collections import Counter
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from affectscope.llm.media import encode_jpeg
from affectscope.media.image import MediaError, thumbnail_data_uri
from affectscope.media.video import middle_frame
from affectscope.ratings import Ratings
from affectscope.report.html import Section, write_page
from affectscope.stimuli import VIDEO_EXTENSIONS

if TYPE_CHECKING:
    import pandas as pd

#: Thumbnails are shown at most 128x96 px: a 128 px JPEG is all the page needs.
THUMB_SIDE = 128


def _thumbnail(path: str) -> str:
    """A JPEG data URI of a picture, or of a video's middle frame."""

    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return encode_jpeg(middle_frame(path, max_side=THUMB_SIDE).rgb, THUMB_SIDE, 75)
    return thumbnail_data_uri(path, size=THUMB_SIDE, quality=75)


@dataclass
class Cell:
    """One cell of the grid: a number (NaN shown as a dash; ``bar`` its position on the scale, in
    %) or text (``img``: a thumbnail's data URI, ``text`` its alternative text)."""

    text: str = ""
    number: float | None = None
    bar: float | None = None
    cls: str = "l"
    img: str = ""


def _cell(value: object, low: float | None, high: float | None) -> Cell:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Cell(str(value))
    if math.isnan(v):
        return Cell(number=v)
    bar = None
    if low is not None and high is not None:
        bar = min(max((v - low) / (high - low), 0.0), 1.0) * 100
    shown = f"{v:.2f}" if (low, high) == (0.0, 1.0) else f"{v:.3g}"  # probabilities and shares: 2 decimals
    return Cell(shown, number=v, bar=bar)


def faces_text(value: str) -> str:
    """The face rater's ``faces`` JSON in words: per face of a picture its top expression and
    probability (largest first), or for a video how often each expression was the top one over
    the processed frames; the text as it is when it is not that JSON."""
    try:
        faces = json.loads(value)
    except ValueError:
        return value
    if not isinstance(faces, list) or not all(isinstance(f, dict) for f in faces):
        return value
    if not faces:
        return "no face"
    if all("t" in f for f in faces):  # a video: one entry per processed frame with a face
        counts = Counter(str(f.get("top")) for f in faces)
        return f"{len(faces)} frames with a face: " + ", ".join(f"{k} x{n}" for k, n in counts.most_common())
    shown = ", ".join(f"{f.get('top')} {float(f.get('p', float('nan'))):.2f}" for f in faces[:3])
    more = f", +{len(faces) - 3} more" if len(faces) > 3 else ""
    return f"{len(faces)} face{'s' if len(faces) > 1 else ''}: {shown}{more}"


def _numeric(values: pd.Series) -> bool:
    """Whether a column holds numbers (NaN allowed), so that the grid can sort and bar it."""
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(values)) or bool(pd.to_numeric(values, errors="coerce").notna().sum() == values.notna().sum())


#: Text columns whose typical (median) entry is longer than this many characters get a wider cell.
LONG_TEXT = 60


def _typical_length(values: pd.Series) -> float:
    """Median length of the non-blank strings; 0 when there are none."""
    lengths = [len(v) for v in values if isinstance(v, str) and v.strip()]
    return float(statistics.median(lengths)) if lengths else 0.0


def write_ratings_page(ratings: Ratings, out: str | os.PathLike[str], *, title: str = "affectscope ratings", thumbnails: bool = True,
                       sections: Sequence[Section] = ()) -> Path:
    """Write one HTML file showing every item with its thumbnail, ratings and errors.

    Parameters
    ----------
    ratings : Ratings
    out : path-like
        The ``.html`` file to write.
    title : str
    thumbnails : bool, default True
        Embed a small JPEG of each image (items whose file cannot be read show none).
    sections : sequence of Section
        Parts placed above the table (plots and comparisons from :func:`affectscope.report.write_report`).

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    # numbers: ratings, categories, features, and counts and spreads (n_faces, n_frames; an LLM's
    # <scale>_sd, n_answers, n_refusals, n_failures, tokens)
    cols = [c for c in ratings.columns.values() if c.kind in ("scale", "category", "feature", "count", "other")
            and c.name in ratings.data.columns and _numeric(ratings.data[c.name])]
    texts = [c for c in ratings.columns.values() if c.kind == "text" and c.name not in ("path",)]
    # text columns that no item fills (e.g. training_item on new pictures) would only take width
    typical = {c.name: _typical_length(ratings.data[c.name]) for c in texts}
    empty = [name for name, length in typical.items() if length == 0]
    texts = [c for c in texts if c.name not in empty]
    long_text = {name for name, length in typical.items() if length > LONG_TEXT}
    show_errors = not ratings.errors.empty
    show_warnings = not ratings.warnings.empty
    rater = ratings.rater
    header = [{"name": "item", "left": True, "title": None}] + ([{"name": "image", "left": True, "title": None}] if thumbnails else [])
    header += [{"name": c.name, "left": False, "title": f"{c.description or ''} [{c.scale.label if c.scale else ''}]"} for c in cols]
    header += [{"name": c.name, "left": True, "title": c.description or ""} for c in texts]
    header += [{"name": "error", "left": True, "title": None}] if show_errors else []
    header += [{"name": "warning", "left": True, "title": None}] if show_warnings else []
    rows = []
    for item_id, row in ratings.data.iterrows():
        cells = [Cell(str(item_id))]
        if thumbnails:
            img = ""
            path = row.get("path")
            if isinstance(path, str) and path:
                try:
                    img = _thumbnail(path)
                except (MediaError, OSError, ValueError):
                    img = ""
            cells.append(Cell(str(item_id), img=img) if img else Cell())
        for c in cols:
            cells.append(_cell(row[c.name], c.scale.low if c.scale else None, c.scale.high if c.scale else None))
        for c in texts:
            v = row.get(c.name)
            v = faces_text(v) if c.name == "faces" and isinstance(v, str) else v
            cells.append(Cell(v if isinstance(v, str) else "", cls="l txt long" if c.name in long_text else "l txt"))
        for shown, col in ((show_errors, "error"), (show_warnings, "warning")):
            if shown:
                v = row.get(col)
                cells.append(Cell(v if isinstance(v, str) else "", cls="err"))
        rows.append(cells)
    scales = "; ".join(f"{c.name}: {c.scale.label}" for c in cols if c.scale and c.kind == "scale")
    # an LLM's participants: refusals and failures over all items, beside the per-item columns
    totals = {n: int(ratings.data[n].astype(float).fillna(0).sum()) for n in ("n_refusals", "n_failures")
              if n in ratings.data.columns}
    if isinstance(sections, str):
        raise TypeError("sections takes a list of affectscope.report.html.Section objects (HTML strings are no longer taken)")
    out = Path(out)
    return write_page(out, "ratings_page.html.j2", title=title, rater=rater, n_items=len(ratings), n_failed=len(ratings.errors),
                      n_warned=len(ratings.warnings) if show_warnings else None, scales=scales, hidden=", ".join(empty),
                      totals=totals,
                      baseline=rater.family == "baseline", sections=list(sections), header=header, rows=rows)
