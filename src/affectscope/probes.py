"""Probes (EmoNet-style): what does a rater predict for stimuli with no content at all?

``colors``: flat colour fields — a hue circle at full saturation and brightness, a grey ramp from
black to white, and saturation ramps for red, green and blue. A rater that tracks human feelings
about pictures should not be driven by colour alone; the probe shows how much it is.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

HUES = tuple(range(0, 360, 30))
RAMP = tuple(np.round(np.linspace(0, 1, 9), 3))
SAT_HUES = {"red": 0, "green": 120, "blue": 240}


def color_probe_images(folder: str | Path, size: int = 256) -> pd.DataFrame:
    """Write the colour fields as PNGs into ``folder``; return their table
    (item_id, path, family, hue, saturation, value, rgb)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []

    def add(family: str, h: float, s: float, v: float) -> None:
        r, g, b = (round(255 * c) for c in colorsys.hsv_to_rgb(h / 360.0, s, v))
        name = f"{family}_h{int(h):03d}_s{s:.2f}_v{v:.2f}.png"
        Image.new("RGB", (size, size), (r, g, b)).save(folder / name)
        rows.append({"item_id": name, "path": str(folder / name), "family": family, "hue": h, "saturation": s,
                     "value": v, "rgb": f"#{r:02x}{g:02x}{b:02x}"})

    for h in HUES:
        add("hue", h, 1.0, 1.0)
    for v in RAMP:
        add("brightness", 0, 0.0, float(v))
    for name, h in SAT_HUES.items():
        for s in RAMP:
            add(f"saturation-{name}", h, float(s), 1.0)
    return pd.DataFrame(rows)


def plot_color_probe(table: pd.DataFrame, columns: list[str], path: str | Path, title: str = "") -> Path:
    """One row of panels per rating column: vs hue, vs brightness, vs saturation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(columns), 3, figsize=(12, 3.2 * len(columns)), squeeze=False)
    for row, col in enumerate(columns):
        hue = table[table.family == "hue"].sort_values("hue")
        ax = axes[row, 0]
        ax.plot(hue.hue, hue[col], color="0.6", zorder=1)
        ax.scatter(hue.hue, hue[col], c=list(hue.rgb), edgecolors="k", s=60, zorder=2)
        ax.set(xlabel="hue (degrees; full saturation and brightness)", ylabel=col, xticks=list(range(0, 360, 60)))
        grey = table[table.family == "brightness"].sort_values("value")
        ax = axes[row, 1]
        ax.plot(grey.value, grey[col], "-o", color="0.3")
        ax.set(xlabel="brightness of a grey field (0 black, 1 white)", ylabel=col)
        ax = axes[row, 2]
        for name, h in SAT_HUES.items():
            sat = table[table.family == f"saturation-{name}"].sort_values("saturation")
            ax.plot(sat.saturation, sat[col], "-o", color=name, label=name)
        ax.set(xlabel="saturation (full brightness)", ylabel=col)
        ax.legend(fontsize=8)
        lo = float(np.nanmin(table[col]))
        hi = float(np.nanmax(table[col]))
        pad = max(0.1, 0.1 * (hi - lo))
        for ax in axes[row]:
            ax.set_ylim(lo - pad, hi + pad)
            ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
