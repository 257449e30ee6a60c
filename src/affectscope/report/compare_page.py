"""A self-contained HTML page of comparison results: the summary tables plus plots embedded as PNG
(scatter per scale, confusion matrix, RDMs side by side, GW plan). Opens offline in any browser."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from affectscope.report.html import Section, display_plot, write_page
from affectscope.report.plots import ConfusionDisplay, PlanDisplay, RDMDisplay, ScatterDisplay


def _warnings(result: Any) -> list[str]:
    """Warnings of a comparison to box (e.g. ratings of the rater's own training pictures)."""
    return [n for n in getattr(result, "notes", []) if n.startswith("warning")]


def compare_sections(results: Mapping[str, Any]) -> list[Section]:
    """Sections (summary table + plots) for ``{"items": ..., "categories": ..., "structure": ...}``."""
    parts: list[Section] = []
    if "items" in results:
        r = results["items"]
        plots = [display_plot(ScatterDisplay.from_comparison(r, s).plot(), f"scatter {s}") for s in r.values]
        parts.append(Section("Item level", warnings=_warnings(r), pre=r.summary(), rows=[plots]))
    if "categories" in results:
        r = results["categories"]
        parts.append(Section("Categories", warnings=_warnings(r), pre=r.summary(),
                             rows=[[display_plot(ConfusionDisplay.from_comparison(r).plot(), "confusion matrix")]]))
    if "structure" in results:
        r = results["structure"]
        plots = [display_plot(RDMDisplay.from_comparison(r).plot(), "RDMs")]
        if r.gw is not None:
            plots.append(display_plot(PlanDisplay.from_comparison(r).plot(), "GW plan"))
        parts.append(Section("Structure", pre=r.summary(), rows=[plots]))
    return parts


def write_compare_report(results: Mapping[str, Any], out: str | Path, title: str = "affectscope comparison") -> Path:
    """Write the page for ``{"items": ItemComparison, "categories": ..., "structure": ...}``
    (any subset) and return its path."""
    return write_page(out, "document.html.j2", title=title, sections=compare_sections(results))
