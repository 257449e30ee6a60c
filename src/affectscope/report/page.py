"""A self-contained HTML page of one ratings table: thumbnails embedded, no network needed.

The full report (plots, comparisons, videos) builds on this page.
"""

from __future__ import annotations

import html
import math
import os
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from affectscope._files import atomic_write_text
from affectscope.llm.media import encode_jpeg
from affectscope.media.image import MediaError, thumbnail_data_uri
from affectscope.media.video import middle_frame
from affectscope.ratings import Ratings
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


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem;margin:0 0 .3rem} .meta{color:#555;font-size:.9rem}
.warn{background:#fff4d6;border:1px solid #e6c36a;padding:.5rem .8rem;border-radius:6px;margin:.8rem 0}
table{border-collapse:collapse;font-size:.85rem;margin-top:1rem}
th,td{border-bottom:1px solid #e3e3e3;padding:.3rem .5rem;text-align:right;vertical-align:middle}
th{cursor:pointer;background:#f6f6f6;position:sticky;top:0} th.l,td.l{text-align:left}
td.err{color:#a00;text-align:left;min-width:12rem;max-width:28rem} td.txt{min-width:8rem;max-width:16rem;font-size:.85em} td.long{min-width:18rem;max-width:28rem} td img{display:block;max-height:96px;max-width:128px}
.plots{display:flex;flex-wrap:wrap;gap:.8rem} .plots img{max-width:100%;border:1px solid #eee}
.bar{height:6px;background:#ddd;border-radius:3px;margin-top:2px} .bar>i{display:block;height:6px;background:#4a7bd0;border-radius:3px}
"""

_JS = """
var f=document.getElementById('filter');if(f){f.addEventListener('input',function(){var q=f.value.toLowerCase();
 document.querySelectorAll('#ratings tbody tr').forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none'})})}
document.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){
 var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
 rows.sort(function(a,b){var x=a.cells[col].dataset.v||a.cells[col].textContent,y=b.cells[col].dataset.v||b.cells[col].textContent;
  var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return asc?nx-ny:ny-nx}return asc?x.localeCompare(y):y.localeCompare(x)});
 rows.forEach(function(r){tb.appendChild(r)})})});
"""


def _cell(value: object, low: float | None, high: float | None) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f'<td class="l">{html.escape(str(value))}</td>'
    if math.isnan(v):
        return '<td data-v="">&ndash;</td>'
    bar = ""
    if low is not None and high is not None:
        frac = min(max((v - low) / (high - low), 0.0), 1.0)
        bar = f'<div class="bar"><i style="width:{frac * 100:.0f}%"></i></div>'
    shown = f"{v:.2f}" if (low, high) == (0.0, 1.0) else f"{v:.3g}"  # probabilities and shares: 2 decimals
    return f'<td data-v="{v:.6g}" title="{v:.6g}">{shown}{bar}</td>'


#: Text columns whose typical (median) entry is longer than this many characters get a wider cell.
LONG_TEXT = 60


def _typical_length(values: pd.Series) -> float:
    """Median length of the non-blank strings; 0 when there are none."""
    lengths = [len(v) for v in values if isinstance(v, str) and v.strip()]
    return float(statistics.median(lengths)) if lengths else 0.0


def write_ratings_page(ratings: Ratings, out: str | os.PathLike[str], *, title: str = "affectscope ratings", thumbnails: bool = True,
                       sections: str = "") -> Path:
    """Write one HTML file showing every item with its thumbnail, ratings and errors.

    Parameters
    ----------
    ratings : Ratings
    out : path-like
        The ``.html`` file to write.
    title : str
    thumbnails : bool, default True
        Embed a small JPEG of each image (items whose file cannot be read show none).
    sections : str
        Extra HTML placed above the table (plots and comparisons from :func:`affectscope.report.write_report`).

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    cols = [c for c in ratings.columns.values() if c.kind in ("scale", "category", "feature")]
    texts = [c for c in ratings.columns.values() if c.kind == "text" and c.name not in ("path",)]
    # text columns that no item fills (e.g. training_item on new pictures) would only take width
    typical = {c.name: _typical_length(ratings.data[c.name]) for c in texts}
    empty = [name for name, length in typical.items() if length == 0]
    texts = [c for c in texts if c.name not in empty]
    long_text = {name for name, length in typical.items() if length > LONG_TEXT}
    show_errors = not ratings.errors.empty
    show_warnings = not ratings.warnings.empty
    rater = ratings.rater
    head = ['<th class="l">item</th>'] + (['<th class="l">image</th>'] if thumbnails else [])
    head += [
        f'<th title="{html.escape(c.description or "")} [{html.escape(c.scale.label if c.scale else "")}]">{html.escape(c.name)}</th>'
        for c in cols
    ] + [f'<th class="l" title="{html.escape(c.description or "")}">{html.escape(c.name)}</th>' for c in texts]
    head += ['<th class="l">error</th>'] if show_errors else []
    head += ['<th class="l">warning</th>'] if show_warnings else []
    rows = []
    for item_id, row in ratings.data.iterrows():
        cells = [f'<td class="l">{html.escape(str(item_id))}</td>']
        if thumbnails:
            img = ""
            path = row.get("path")
            if isinstance(path, str) and path:
                try:
                    img = f'<img loading="lazy" alt="{html.escape(str(item_id))}" src="{_thumbnail(path)}">'
                except (MediaError, OSError, ValueError):
                    img = ""
            cells.append(f'<td class="l">{img}</td>')
        for c in cols:
            lo = c.scale.low if c.scale else None
            hi = c.scale.high if c.scale else None
            cells.append(_cell(row[c.name], lo, hi))
        for c in texts:
            v = row.get(c.name)
            cls = "l txt long" if c.name in long_text else "l txt"
            cells.append(f'<td class="{cls}">{html.escape(v) if isinstance(v, str) else ""}</td>')
        if show_errors:
            err = row.get("error")
            cells.append(f'<td class="err">{html.escape(err) if isinstance(err, str) else ""}</td>')
        if show_warnings:
            w = row.get("warning")
            cells.append(f'<td class="err">{html.escape(w) if isinstance(w, str) else ""}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    n_err = len(ratings.errors)
    hidden = f"<br>empty for every item, so not shown: {html.escape(', '.join(empty))}" if empty else ""
    warn = ""
    if rater.family == "baseline":
        warn = f'<div class="warn"><b>Baseline rater</b> ({html.escape(rater.source)}). Expect low agreement with human norms.</div>'
    scales = "; ".join(f"{html.escape(c.name)}: {html.escape(c.scale.label)}" for c in cols if c.scale and c.kind == "scale")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="meta">rater <b>{html.escape(rater.name)}</b> (v{html.escape(rater.version)}, {html.escape(rater.family)}) &middot;
{len(ratings)} items, {n_err} failed{f", {len(ratings.warnings)} with a warning" if show_warnings else ""} &middot; created {html.escape(rater.created)}<br>scales: {scales or "&ndash;"}{hidden}</div>
{warn}
{sections}
<p><input id="filter" type="search" placeholder="filter rows (any text: id, concept, emotion, error)" size="50"></p>
<table id="ratings"><thead><tr>{"".join(head)}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="meta">Click a column header to sort; type in the box to filter. Made by affectscope.</p>
<script>{_JS}</script>
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, doc)
    return out
