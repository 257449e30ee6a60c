"""`affectscope report`: one self-contained HTML file for a ratings table.

Sections, each only when there is something to show: distributions of the rating scales, the
comparison with human norms (scatter per scale with r [CI], confusion matrix, RDMs and GW plan),
per-video time series (from the face or image rater's ``series_dir``: category probabilities and
rating scales over time) with the keyframe at the strongest non-neutral category, then the
sortable, filterable grid of items with thumbnails, ratings and explanations. Everything is
embedded: the file opens offline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope.llm.media import encode_jpeg
from affectscope.media.image import MediaError
from affectscope.media.video import read_frames, series_file
from affectscope.ratings import Ratings
from affectscope.report.compare_page import compare_sections
from affectscope.report.html import Plot, Section, display_plot
from affectscope.report.item_grid import write_ratings_page
from affectscope.report.plots import CategoryDistributionDisplay, DistributionDisplay, TimeSeriesDisplay

MAX_DISTRIBUTIONS = 12
MAX_SERIES = 24


def _series_sections(ratings: Ratings, series_dir: Path) -> list[Section]:
    """One row of plots per video with a series file: category probabilities over time (with the
    frame of the strongest non-neutral category), and the rating scales over time."""

    labels = [c.name for c in ratings.columns.values() if c.kind == "category"]
    scales = [c for c in ratings.columns.values() if c.kind == "scale" and c.scale is not None]
    out: list[list[Plot]] = []
    for item_id, row in list(ratings.data.iterrows())[:MAX_SERIES]:
        f = series_file(series_dir, str(item_id))
        if not f.is_file():
            continue
        series = pd.read_csv(f)
        use = [c for c in labels if c in series.columns]
        use_scales = [c for c in scales if c.name in series.columns]
        if not (use or use_scales) or not len(series) or "time" not in series.columns:
            continue
        episode = row.get("episode")
        episode = episode if isinstance(episode, str) else ""  # an empty CSV cell reads back as NaN
        plots = []
        if use:
            plots.append(display_plot(TimeSeriesDisplay.from_series(series, use, title=str(item_id), episode=episode).plot(),
                              f"time series {item_id}"))
        # scales sharing one range share a plot (valence and arousal on SAM 1-9)
        by_range: dict[tuple[float, float], list[str]] = {}
        for c in use_scales:
            by_range.setdefault((float(c.scale.low), float(c.scale.high)), []).append(c.name)  # type: ignore[union-attr]
        for (lo, hi), names in by_range.items():
            plots.append(display_plot(TimeSeriesDisplay.from_series(series, names, title=f"{item_id}: {', '.join(names)}",
                                                            ylabel="rating", ylim=(lo, hi)).plot(),
                              f"scales over time {item_id}"))
        path = row.get("path")
        non_neutral = [c for c in use if c != "neutral"]
        if isinstance(path, str) and non_neutral and "frame" in series.columns:
            probs = series[non_neutral].to_numpy(float)
            if not np.isnan(probs).all():
                k = int(np.nanargmax(np.nanmax(probs, axis=1)))
                j = int(np.nanargmax(probs[k]))
                try:
                    (frame,) = read_frames(path, [int(series["frame"].iloc[k])], max_side=160)
                    plots.append(Plot(encode_jpeg(frame.rgb, 160, 80), "keyframe", f"frame {frame.index} at {frame.time:.2f} s "
                                      f"(strongest: {non_neutral[j]} {probs[k, j]:.2f})"))
                except (MediaError, ValueError, OSError):
                    pass
        out.append(plots)
    return [Section("Videos: ratings over time", rows=out)] if out else []


def write_report(
    ratings: Ratings, out: str | os.PathLike[str], *, comparisons: Mapping[str, Any] | None = None,
    series_dir: str | os.PathLike[str] | None = None, title: str = "affectscope report", thumbnails: bool = True,
) -> Path:
    """Write the full report (see the module docstring) and return its path."""
    sections: list[Section] = []
    scales = [c.name for c in ratings.columns.values() if c.kind == "scale"][:MAX_DISTRIBUTIONS]
    taxonomies = list(dict.fromkeys(c.taxonomy for c in ratings.columns.values() if c.kind == "category" and c.taxonomy))
    rows = []
    if scales:
        rows.append([display_plot(DistributionDisplay.from_ratings(ratings, c).plot(), f"distribution {c}") for c in scales])
    if taxonomies:
        rows.append([display_plot(CategoryDistributionDisplay.from_ratings(ratings, t).plot(), f"emotion distribution {t}")
                     for t in taxonomies])
    if rows:
        sections.append(Section("Distributions", rows=rows))
    if comparisons:
        sections += [Section("Compared with humans"), *compare_sections(comparisons)]
    if series_dir is not None:
        sections += _series_sections(ratings, Path(series_dir))
    sections.append(Section("Items"))
    return write_ratings_page(ratings, out, title=title, thumbnails=thumbnails, sections=sections)


__all__ = ["write_report"]
