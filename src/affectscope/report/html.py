"""The HTML of the reports, through jinja2 templates with autoescaping (``report/templates/``).

Pages are made of :class:`Section` objects (a heading, notes, warnings, preformatted text, tables,
rows of plots, a list) that the templates render: text is escaped by jinja2, never by hand. Tables
are pandas' own escaped HTML; plots are embedded PNG data URIs, so every page opens offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from affectscope._files import atomic_write_text


@dataclass
class Plot:
    """A plotted figure embedded as a PNG data URI, with its alternative text and an optional caption."""

    uri: str
    alt: str
    caption: str = ""


@dataclass
class Section:
    """One part of a page; every field optional. ``tables`` are HTML tables from :func:`table`."""

    title: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pre: str = ""
    tables: list[Markup] = field(default_factory=list)
    rows: list[list[Plot]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


def display_plot(display: Any, alt: str) -> Plot:
    """A plotted Display object as an embedded PNG (its figure closed)."""
    import matplotlib.pyplot as plt

    from affectscope.report.plots import figure_data_uri

    uri = figure_data_uri(display.figure_)
    plt.close(display.figure_)
    return Plot(uri, alt)


def table(frame: Any, index: bool = True) -> Markup:
    """A DataFrame as an HTML table (pandas escapes the cells), floats with 3 decimals."""
    return Markup(frame.to_html(index=index, escape=True, border=0, na_rep="", float_format=lambda v: f"{v:.3f}"))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaping on for every template."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render(template: str, **context: Any) -> str:
    """``template`` (a file of ``report/templates/``) rendered with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(out: str | os.PathLike[str], template: str, **context: Any) -> Path:
    """Render ``template`` and write it to ``out`` atomically (folders made); return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, render(template, **context))
