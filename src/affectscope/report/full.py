"""`affectscope report`: one self-contained HTML file for a ratings table.

Sections, each only when there is something to show: distributions of the rating scales, the
comparison with human norms (scatter per scale with r [CI], confusion matrix, RDMs and GW plan),
per-video expression time series (from the face rater's ``series_dir``) with the keyframe at the
strongest expression, then the sortable, filterable grid of items with thumbnails, ratings and
explanations. Everything is embedded: the file opens offline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope.ratings import Ratings
from affectscope.report.compare_page import _img, compare_sections
from affectscope.report.page import write_ratings_page
from affectscope.report.plots import DistributionDisplay, TimeSeriesDisplay

MAX_DISTRIBUTIONS = 12
MAX_SERIES = 24


def _series_sections(ratings: Ratings, series_dir: Path) -> list[str]:
    from affectscope.media.image import MediaError

    labels = [c.name for c in ratings.columns.values() if c.kind == "category" and c.taxonomy in ("ferplus8", "fer2013")]
    out = []
    for item_id, row in list(ratings.data.iterrows())[:MAX_SERIES]:
        f = series_dir / (str(item_id).replace("/", "__") + ".csv")
        if not f.is_file():
            continue
        series = pd.read_csv(f)
        use = [c for c in labels if c in series.columns]
        if not use or not len(series):
            continue
        episode = row.get("episode")
        episode = episode if isinstance(episode, str) else ""  # an empty CSV cell reads back as NaN
        plot = _img(TimeSeriesDisplay.from_series(series, use, title=str(item_id), episode=episode).plot(),
                    f"time series {item_id}")
        key = ""
        path = row.get("path")
        non_neutral = [c for c in use if c != "neutral"]
        if isinstance(path, str) and non_neutral:
            probs = series[non_neutral].to_numpy(float)
            if not np.isnan(probs).all():
                k = int(np.nanargmax(np.nanmax(probs, axis=1)))
                try:
                    from affectscope.llm.media import encode_jpeg
                    from affectscope.media.video import read_frames

                    (frame,) = read_frames(path, [int(series["frame"].iloc[k])], max_side=160)
                    key = (f'<figure><img alt="keyframe" src="{encode_jpeg(frame.rgb, 160, 80)}">'
                           f"<figcaption>frame {frame.index} at {frame.time:.2f} s (strongest expression)</figcaption></figure>")
                except (MediaError, ValueError, OSError):
                    key = ""
        out.append(f'<div class="plots">{plot}{key}</div>')
    return (["<h2>Videos: expressions over time</h2>", *out]) if out else []


def write_report(
    ratings: Ratings, out: str | os.PathLike[str], *, comparisons: Mapping[str, Any] | None = None,
    series_dir: str | os.PathLike[str] | None = None, title: str = "affectscope report", thumbnails: bool = True,
) -> Path:
    """Write the full report (see the module docstring) and return its path."""
    sections: list[str] = []
    scales = [c.name for c in ratings.columns.values() if c.kind == "scale"][:MAX_DISTRIBUTIONS]
    if scales:
        imgs = [_img(DistributionDisplay.from_ratings(ratings, c).plot(), f"distribution {c}") for c in scales]
        sections += ["<h2>Distributions</h2>", f'<div class="plots">{"".join(imgs)}</div>']
    if comparisons:
        sections += ["<h2>Compared with humans</h2>", *compare_sections(comparisons)]
    if series_dir is not None:
        sections += _series_sections(ratings, Path(series_dir))
    sections.append("<h2>Items</h2>")
    return write_ratings_page(ratings, out, title=title, thumbnails=thumbnails, sections="\n".join(sections))


__all__ = ["write_report"]
