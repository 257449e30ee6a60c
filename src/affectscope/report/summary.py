"""The short table printed at the end of a run (rich): per rating column n, mean, SD, range."""

from __future__ import annotations

from typing import Any

import numpy as np

from affectscope.ratings import Ratings

MAX_ROWS = 16


def summary_rows(ratings: Ratings) -> list[dict[str, Any]]:
    """Per scale/category column: name, scale, n, mean, SD, min, max (NaNs left out)."""
    rows = []
    for c in ratings.columns.values():
        if c.kind not in ("scale", "category"):
            continue
        v = ratings.data[c.name].to_numpy(float)
        v = v[~np.isnan(v)]
        rows.append({"column": c.name, "scale": c.scale.label if c.scale else "", "n": int(len(v)),
                     "mean": float(v.mean()) if len(v) else float("nan"), "sd": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                     "min": float(v.min()) if len(v) else float("nan"), "max": float(v.max()) if len(v) else float("nan")})
    return rows


def print_summary(ratings: Ratings, file: Any = None) -> None:
    """Print the table (plain text when the output is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    rows = summary_rows(ratings)
    if not rows:
        return
    table = Table(title=f"{ratings.rater.name}: {len(ratings)} items, {len(ratings.errors)} failed"
                  + (f", {len(ratings.warnings)} with a warning" if len(ratings.warnings) else ""), title_justify="left")
    for name in ("column", "scale", "n", "mean", "sd", "min", "max"):
        table.add_column(name, justify="left" if name in ("column", "scale") else "right")
    for r in rows[:MAX_ROWS]:
        table.add_row(r["column"], r["scale"], str(r["n"]), *(f"{r[k]:.3g}" for k in ("mean", "sd", "min", "max")))
    if len(rows) > MAX_ROWS:
        table.add_row(f"... {len(rows) - MAX_ROWS} more", "", "", "", "", "", "")
    Console(file=file, width=110).print(table)
