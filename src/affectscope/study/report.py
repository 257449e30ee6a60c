"""The study report: one self-contained HTML page (the papers' table, the figures, the paired tests,
homogeneity, what each rater cost). Nothing in it depends on when it was written, so a rerun of a
finished study writes the same page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from affectscope.ratings import Ratings
from affectscope.report.html import Section, display_plot, table, write_page
from affectscope.report.plots import ScatterDisplay
from affectscope.study.plots import AgreementMatrixDisplay, RaterBarsDisplay, SpreadDisplay

def write_study_report(out: str | Path, title: str, results: pd.DataFrame, runs: dict[str, Any],
                       comparisons: dict[str, dict[str, Any]], paired: pd.DataFrame, humans: Ratings) -> Path:
    """Write the report of a finished study to ``out`` and return its path."""
    from affectscope.study.run import papers_table

    parts = [Section(notes=[f"{len(runs)} raters; humans: {humans.rater.name} ({len(humans)} items). "
                            "Results table: results.csv / results.parquet; exact settings: study.lock.json."])]
    papers = papers_table(results)
    if not papers.empty:
        parts.append(Section("Agreement with the humans (Pearson r [95 % CI]; share of the noise ceiling)", tables=[table(papers)],
                             rows=[[display_plot(RaterBarsDisplay.from_results(results).plot(), "r per rater and scale")]]))
    if not paired.empty:
        shown = paired[["scale", "rater_a", "rater_b", "n", "r_a", "r_b", "delta", "delta_lo", "delta_hi", "p_bootstrap",
                        "williams_t", "williams_p"]].copy()
        for col in ("p_bootstrap", "williams_p"):  # small p-values stay readable (not 0.000)
            shown[col] = [f"{v:.2g}" for v in shown[col]]
        parts.append(Section("Paired tests: is one rater closer to the humans than another?",
                             notes=["delta = r(A, humans) - r(B, humans) on the items both rated; CI and p from a paired "
                                    "bootstrap (whole clusters where the humans' table groups items), and Williams' t (Steiger 1980), "
                                    "which assumes independent items."], tables=[table(shown, index=False)]))
    scales = [s for s in humans.columns_of("scale") if sum(s in r.ratings.columns for r in runs.values()) >= 1]
    matrices = []
    for s in scales:
        tables = {n: r.ratings for n, r in runs.items() if s in r.ratings.columns}
        try:
            matrices.append(display_plot(AgreementMatrixDisplay.from_ratings(tables, humans, s).plot(), f"agreement matrix {s}"))
        except ValueError:
            continue
    if matrices:
        parts.append(Section("Raters and humans, pair by pair", rows=[matrices]))
    structure = comparisons.get("_structure_matrix", {}).get("matrix")
    if structure is not None:
        disp = AgreementMatrixDisplay(structure, "structure (RDMs of the shared scales)", len(humans))
        rsa_rows = results[(results["level"] == "structure") & results["statistic"].str.startswith("rsa_")]
        parts.append(Section("Structure: whose item-by-item dissimilarities resemble whose",
                             notes=["Spearman correlation between the RDMs (euclidean distances of the z-scored scale "
                                    "patterns) of every two raters and the humans, over the items all of them rated."],
                             rows=[[display_plot(disp.plot(), "RDM agreement matrix")]]))
        if not rsa_rows.empty:
            parts.append(Section(tables=[table(rsa_rows.pivot_table(index="rater", columns="statistic", values="value", sort=False))]))
    rows = []  # one row per scale, the raters side by side
    for scale in humans.columns_of("scale"):
        row = [display_plot(ScatterDisplay.from_comparison(got["items"], scale).plot(), f"scatter {name} {scale}")
               for name, got in comparisons.items() if got.get("items") is not None and scale in got["items"].values]
        if row:
            rows.append(row)
    if rows:
        parts.append(Section("Item by item (a row per scale, the raters side by side)", rows=rows))
    homog = results[results["level"] == "homogeneity"]
    if not homog.empty:
        wide = homog.pivot_table(index=["rater", "scale"], columns="statistic", values="value", sort=False)
        spreads = []
        for name, scale in wide.index:
            try:
                spreads.append(display_plot(SpreadDisplay.from_ratings(runs[name].ratings, humans, scale, name).plot(), f"spread {name} {scale}"))
            except ValueError:
                continue
        parts.append(Section("Homogeneity: spread across a rater's participants vs across people",
                             notes=["SDs as shares of each scale's range; sd_ratio below 1: the rater's participants agree "
                                    "with each other more than human raters do (Ogg et al. 2025)."], tables=[table(wide)],
                             rows=[spreads]))
    rel = results[results["level"] == "reliability"]
    if not rel.empty:
        wide = rel.pivot_table(index=["rater", "scale"], columns="statistic", values="value", sort=False)
        ceilings = results[(results["level"] == "items") & (results["statistic"] == "ceiling")]
        wide["humans_noise_ceiling"] = [ceilings[(ceilings["rater"] == r) & (ceilings["scale"] == sc)]["value"].max()
                                        for r, sc in wide.index]
        parts.append(Section("Reliability of each rater's participants",
                             notes=["split_half: the participants in two halves (even, odd), item means per half "
                                    "correlated and stepped up with Spearman-Brown; next to the humans' noise ceiling on the same scale."],
                             tables=[table(wide)]))
    cats = results[results["level"] == "categories"]
    if not cats.empty:
        parts.append(Section("Categories", tables=[table(cats.pivot_table(index="rater", columns="statistic", values="value", sort=False))]))
    cost = results[results["level"] == "run"]
    if not cost.empty:
        wide = cost.pivot_table(index="rater", columns="statistic", values="value", sort=False)
        parts.append(Section("Items, failures, refusals and cost",
                             notes=["n_rated_now, n_resumed and requests_now describe the run that wrote this page; the "
                                    "other columns the ratings."],
                             tables=[table(wide.drop(columns=[c for c in ("n_rated_now", "n_resumed", "requests_now") if c in wide.columns]))]))
    left = results[results["statistic"].str.startswith("dropped_") | (results["statistic"] == "n_skipped_entries")]
    left = left[left["value"] > 0]
    if not left.empty:
        parts.append(Section("Left out", notes=["Folder entries that are not stimuli, and items a comparison left out, by why "
                                               "(only_humans: normed but not rated; only_rater: rated but not normed; rater_failed: "
                                               "an error row; nan_SCALE: no value on that scale)."],
                             tables=[table(left[["rater", "level", "statistic", "value"]], index=False)]))
    notes = [n for got in comparisons.values() for res in got.values() if hasattr(res, "notes") for n in res.notes]
    notes += [f"{name}: categories not compared: {got['categories_error']}" for name, got in comparisons.items() if "categories_error" in got]
    if notes:
        parts.append(Section("Notes", items=list(dict.fromkeys(notes))))
    return write_page(out, "document.html.j2", title=title, sections=parts)
