"""A self-contained HTML page of comparison results: the summary tables plus plots embedded as PNG
(scatter per scale, confusion matrix, RDMs side by side, GW plan). Opens offline in any browser."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from affectscope._files import atomic_write_text
from affectscope.report.plots import ConfusionDisplay, PlanDisplay, RDMDisplay, ScatterDisplay, figure_data_uri

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;font-size:12px} h2{margin-top:1.6rem}
.plots{display:flex;flex-wrap:wrap;gap:1rem} .plots img{max-width:100%;border:1px solid #eee}
.warn{background:#fff4d6;border:1px solid #e6c36a;padding:.5rem .8rem;border-radius:6px;margin:.8rem 0}"""


def display_img(display: Any, alt: str) -> str:
    """A plotted Display object as an embedded PNG ``<img>`` (its figure closed), for the HTML pages."""
    import matplotlib.pyplot as plt

    uri = figure_data_uri(display.figure_)
    plt.close(display.figure_)
    return f'<img class="plot" alt="{html.escape(alt)}" src="{uri}">'


def _warnings(result: Any) -> list[str]:
    """Boxed warnings of a comparison (e.g. ratings of the rater's own training pictures)."""
    return [f'<div class="warn">{html.escape(n)}</div>' for n in getattr(result, "notes", []) if n.startswith("warning")]


def compare_sections(results: Mapping[str, Any]) -> list[str]:
    """HTML sections (summary table + plots) for ``{"items": ..., "categories": ..., "structure": ...}``."""
    parts: list[str] = []
    if "items" in results:
        r = results["items"]
        plots = [display_img(ScatterDisplay.from_comparison(r, s).plot(), f"scatter {s}") for s in r.values]
        parts += ["<h2>Item level</h2>", *_warnings(r), f"<pre>{html.escape(r.summary())}</pre>",
                  f'<div class="plots">{"".join(plots)}</div>']
    if "categories" in results:
        r = results["categories"]
        parts += ["<h2>Categories</h2>", *_warnings(r), f"<pre>{html.escape(r.summary())}</pre>",
                  f'<div class="plots">{display_img(ConfusionDisplay.from_comparison(r).plot(), "confusion matrix")}</div>']
    if "structure" in results:
        r = results["structure"]
        plots = [display_img(RDMDisplay.from_comparison(r).plot(), "RDMs")]
        if r.gw is not None:
            plots.append(display_img(PlanDisplay.from_comparison(r).plot(), "GW plan"))
        parts += ["<h2>Structure</h2>", f"<pre>{html.escape(r.summary())}</pre>", f'<div class="plots">{"".join(plots)}</div>']
    return parts


def write_compare_report(results: Mapping[str, Any], out: str | Path, title: str = "affectscope comparison") -> Path:
    """Write the page for ``{"items": ItemComparison, "categories": ..., "structure": ...}``
    (any subset) and return its path."""
    parts = [f"<h1>{html.escape(title)}</h1>", *compare_sections(results)]
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
           f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    return atomic_write_text(out, doc)
