"""The study report: one self-contained HTML page (the papers' table, the figures, the paired tests,
homogeneity, what each rater cost). Nothing in it depends on when it was written, so a rerun of a
finished study writes the same page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from affectscope._files import atomic_write_text
from affectscope.ratings import Ratings
from affectscope.report.compare_page import display_img
from affectscope.report.plots import ScatterDisplay
from affectscope.study.plots import AgreementMatrixDisplay, RaterBarsDisplay, SpreadDisplay

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;font-size:13px;text-align:left}
th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:12px}.warn{background:#fff4d6;border:1px solid #e6c36a;padding:.5rem .8rem;border-radius:6px}"""


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    return frame.to_html(index=index, escape=True, border=0, na_rep="", float_format=lambda v: f"{v:.3f}")


def write_study_report(out: str | Path, title: str, results: pd.DataFrame, runs: dict[str, Any],
                       comparisons: dict[str, dict[str, Any]], paired: pd.DataFrame, humans: Ratings) -> Path:
    """Write the report of a finished study to ``out`` and return its path."""
    from affectscope.study.run import papers_table

    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">{len(runs)} raters; humans: {html.escape(humans.rater.name)} ({len(humans)} items). '
             "Results table: results.csv / results.parquet; exact settings: study.lock.json.</p>"]
    table = papers_table(results)
    if not table.empty:
        parts += ["<h2>Agreement with the humans (Pearson r [95 % CI]; share of the noise ceiling)</h2>", _table(table)]
        parts.append(f'<div class="plots">{display_img(RaterBarsDisplay.from_results(results).plot(), "r per rater and scale")}</div>')
    if not paired.empty:
        shown = paired[["scale", "rater_a", "rater_b", "n", "r_a", "r_b", "delta", "delta_lo", "delta_hi", "p_bootstrap",
                        "williams_t", "williams_p"]].copy()
        for col in ("p_bootstrap", "williams_p"):  # small p-values stay readable (not 0.000)
            shown[col] = [f"{v:.2g}" for v in shown[col]]
        parts += ["<h2>Paired tests: is one rater closer to the humans than another?</h2>",
                  '<p class="note">delta = r(A, humans) - r(B, humans) on the items both rated; CI and p from a paired '
                  "bootstrap (whole clusters where the humans' table groups items), and Williams' t (Steiger 1980), which "
                  "assumes independent items.</p>", _table(shown, index=False)]
    scales = [s for s in humans.columns_of("scale") if sum(s in r.ratings.columns for r in runs.values()) >= 1]
    matrices = []
    for s in scales:
        tables = {n: r.ratings for n, r in runs.items() if s in r.ratings.columns}
        try:
            matrices.append(display_img(AgreementMatrixDisplay.from_ratings(tables, humans, s).plot(), f"agreement matrix {s}"))
        except ValueError:
            continue
    if matrices:
        parts += ["<h2>Raters and humans, pair by pair</h2>", f'<div class="plots">{"".join(matrices)}</div>']
    structure = comparisons.get("_structure_matrix", {}).get("matrix")
    if structure is not None:
        disp = AgreementMatrixDisplay(structure, "structure (RDMs of the shared scales)", len(humans))
        rsa_rows = results[(results["level"] == "structure") & results["statistic"].str.startswith("rsa_")]
        parts += ["<h2>Structure: whose item-by-item dissimilarities resemble whose</h2>",
                  '<p class="note">Spearman correlation between the RDMs (euclidean distances of the z-scored scale '
                  "patterns) of every two raters and the humans, over the items all of them rated.</p>",
                  f'<div class="plots">{display_img(disp.plot(), "RDM agreement matrix")}</div>']
        if not rsa_rows.empty:
            parts.append(_table(rsa_rows.pivot_table(index="rater", columns="statistic", values="value", sort=False)))
    rows = []  # one row per scale, the raters side by side
    for scale in humans.columns_of("scale"):
        row = [display_img(ScatterDisplay.from_comparison(got["items"], scale).plot(), f"scatter {name} {scale}")
               for name, got in comparisons.items() if got.get("items") is not None and scale in got["items"].values]
        if row:
            rows.append(f'<div class="plots">{"".join(row)}</div>')
    if rows:
        parts += ["<h2>Item by item (a row per scale, the raters side by side)</h2>", *rows]
    homog = results[results["level"] == "homogeneity"]
    if not homog.empty:
        wide = homog.pivot_table(index=["rater", "scale"], columns="statistic", values="value", sort=False)
        spreads = []
        for name, scale in wide.index:
            try:
                spreads.append(display_img(SpreadDisplay.from_ratings(runs[name].ratings, humans, scale, name).plot(), f"spread {name} {scale}"))
            except ValueError:
                continue
        parts += ["<h2>Homogeneity: spread across a rater's participants vs across people</h2>",
                  '<p class="note">SDs as shares of each scale\'s range; sd_ratio below 1: the rater\'s participants agree '
                  "with each other more than human raters do (Ogg et al. 2025).</p>", _table(wide),
                  f'<div class="plots">{"".join(spreads)}</div>']
    rel = results[results["level"] == "reliability"]
    if not rel.empty:
        wide = rel.pivot_table(index=["rater", "scale"], columns="statistic", values="value", sort=False)
        ceilings = results[(results["level"] == "items") & (results["statistic"] == "ceiling")]
        wide["humans_noise_ceiling"] = [ceilings[(ceilings["rater"] == r) & (ceilings["scale"] == sc)]["value"].max()
                                        for r, sc in wide.index]
        parts += ["<h2>Reliability of each rater's participants</h2>",
                  '<p class="note">split_half: the participants in two halves (even, odd), item means per half '
                  "correlated and stepped up with Spearman-Brown; next to the humans' noise ceiling on the same scale.</p>",
                  _table(wide)]
    cats = results[results["level"] == "categories"]
    if not cats.empty:
        parts += ["<h2>Categories</h2>", _table(cats.pivot_table(index="rater", columns="statistic", values="value", sort=False))]
    cost = results[results["level"] == "run"]
    if not cost.empty:
        wide = cost.pivot_table(index="rater", columns="statistic", values="value", sort=False)
        parts += ["<h2>Items, failures, refusals and cost</h2>",
                  '<p class="note">n_rated_now, n_resumed and requests_now describe the run that wrote this page; the '
                  "other columns the ratings.</p>", _table(wide.drop(columns=[c for c in ("n_rated_now", "n_resumed", "requests_now")
                                                                               if c in wide.columns]))]
    left = results[results["statistic"].str.startswith("dropped_") | (results["statistic"] == "n_skipped_entries")]
    left = left[left["value"] > 0]
    if not left.empty:
        parts += ["<h2>Left out</h2>",
                  '<p class="note">Folder entries that are not stimuli, and items a comparison left out, by why '
                  "(only_humans: normed but not rated; only_rater: rated but not normed; rater_failed: an error row; "
                  "nan_SCALE: no value on that scale).</p>",
                  _table(left[["rater", "level", "statistic", "value"]], index=False)]
    notes = [n for got in comparisons.values() for res in got.values() if hasattr(res, "notes") for n in res.notes]
    notes += [f"{name}: categories not compared: {got['categories_error']}" for name, got in comparisons.items() if "categories_error" in got]
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in dict.fromkeys(notes)) + "</ul>"]
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
           f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    return atomic_write_text(out, doc)
