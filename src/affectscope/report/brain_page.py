"""Brain-study figures as Display objects, and a self-contained HTML page of them:

- :class:`LayerEncodingDisplay`: encoding r per layer (median over targets, interquartile range),
  with the median noise ceiling where repeats were given;
- :class:`BandWeightsDisplay`: a banded model's mean weight per feature space;
- :class:`LayerRSADisplay`: RSA with the brain per layer, with bootstrap CIs and permutation p.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectscope.report.html import Section, display_plot, table, write_page
from affectscope.report.plots import _plt


def _short(name: str) -> str:
    return name if len(name) <= 24 else name[:11] + "…" + name[-11:]


def _bars(ax: Any, names: list[str], values: np.ndarray, *, color: str, ylabel: str, title: str,
          lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> tuple[Any, np.ndarray]:
    """One bar per name (on a new figure when ``ax`` is None) with optional whiskers from ``lo`` to
    ``hi`` where both are finite; labels, title and the zero line. Returns the axes and bar positions."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 1.5), 3.6))
    x = np.arange(len(names))
    ax.bar(x, values, color=color, alpha=0.85)
    if lo is not None and hi is not None:
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.errorbar(x[ok], values[ok], yerr=[values[ok] - lo[ok], hi[ok] - values[ok]], fmt="none", ecolor="0.2", lw=1, capsize=2)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, [_short(n) for n in names], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return ax, x


@dataclass
class LayerEncodingDisplay:
    """Out-of-fold encoding r per layer: median over targets with the interquartile range."""

    layers: list[str]
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    ceiling: float = float("nan")
    normalised: bool = False

    @classmethod
    def from_results(cls, results: Mapping[str, Any], *, normalised: bool = False) -> "LayerEncodingDisplay":
        """From ``{layer: EncodingResult}`` (:func:`affectscope.brain.compare_layers`); ``normalised``
        plots r / noise ceiling (needs repeats)."""
        if not results:
            raise ValueError("no encoding results to plot")
        rows, ceilings = [], []
        for name, res in results.items():
            r = res.r_normalised if normalised else res.r
            if r is None:
                raise ValueError(f"{name}: no noise ceiling (no repeats were given), so r cannot be normalised")
            ok = r[np.isfinite(r)]
            rows.append(np.percentile(ok, [25, 50, 75]) if len(ok) else [np.nan] * 3)
            if res.ceiling is not None:
                ceilings.append(np.nanmedian(res.ceiling))
        q = np.array(rows, float)
        ceiling = float(np.nanmedian(ceilings)) if ceilings and not normalised else float("nan")
        return cls(list(results), q[:, 1], q[:, 0], q[:, 2], ceiling, normalised)

    def plot(self, ax: Any = None) -> "LayerEncodingDisplay":
        ax, _ = _bars(ax, self.layers, self.median, color="#4c72b0", lo=self.q1, hi=self.q3,
                      ylabel="r / noise ceiling" if self.normalised else "encoding r (median over targets, IQR)",
                      title="Encoding model per layer (out-of-fold)")
        if np.isfinite(self.ceiling):
            ax.axhline(self.ceiling, color="0.4", ls="--", lw=1, label=f"noise ceiling (median) {self.ceiling:.2f}")
            ax.legend(fontsize=8, loc="upper left")
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class BandWeightsDisplay:
    """A banded encoding model's mean weight per feature space (which space explains the targets)."""

    spaces: list[str]
    shares: np.ndarray

    @classmethod
    def from_result(cls, result: Any) -> "BandWeightsDisplay":
        shares = result.space_shares()
        return cls(list(shares), np.array(list(shares.values()), float))

    def plot(self, ax: Any = None) -> "BandWeightsDisplay":
        ax, _ = _bars(ax, self.spaces, self.shares, color="#55a868", ylabel="mean band weight",
                      title="Banded ridge: weight per feature space")
        ax.set_ylim(0, 1)
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class LayerRSADisplay:
    """RSA between each layer's RDM and the brain's, with CIs (when bootstrapped) and p < 0.05 marked."""

    layers: list[str]
    statistic: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray
    method: str = "spearman"

    @classmethod
    def from_results(cls, results: Mapping[str, Any]) -> "LayerRSADisplay":
        """From ``{layer: StructureComparison}`` (:func:`affectscope.brain.layer_rsa`)."""
        if not results:
            raise ValueError("no RSA results to plot")
        stat, lo, hi, p = [], [], [], []
        for res in results.values():
            r = res.rsa
            stat.append(r["statistic"])
            ci = r.get("ci") or (np.nan, np.nan)
            lo.append(ci[0])
            hi.append(ci[1])
            p.append(np.nan if r.get("p_value") is None else r["p_value"])
        method = next(iter(results.values())).rsa["method"]
        return cls(list(results), *(np.array(v, float) for v in (stat, lo, hi, p)), method=method)

    def plot(self, ax: Any = None) -> "LayerRSADisplay":
        ax, x = _bars(ax, self.layers, self.statistic, color="#c44e52", lo=self.lo, hi=self.hi,
                      ylabel=f"RSA ({self.method}) with the brain RDM", title="RSA per layer (* permutation p < 0.05)")
        for xi, s, p in zip(x, self.statistic, self.p, strict=True):
            if np.isfinite(p) and p < 0.05:
                ax.annotate("*", (xi, s), ha="center", va="bottom", fontsize=10)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def brain_sections(encoding: Mapping[str, Any] | None = None, banded: Any = None,
                   rsa: Mapping[str, Any] | None = None) -> list[Section]:
    """Sections for layer-by-layer encoding results, a banded result and layer RSA results (any subset)."""
    import pandas as pd

    parts: list[Section] = []
    if encoding:
        rows = []
        for name, res in encoding.items():
            ok = np.isfinite(res.r)
            row = {"layer": name, "targets": int(ok.sum()), "median r": float(np.median(res.r[ok])) if ok.any() else np.nan}
            if res.p_fwe is not None:
                row["targets p_fwe < 0.05"] = int(np.sum(res.p_fwe < 0.05))
            if res.ceiling is not None:
                row["median ceiling"] = float(np.nanmedian(res.ceiling))
                rn = res.r_normalised
                row["median r / ceiling"] = float(np.nanmedian(rn)) if np.isfinite(rn).any() else np.nan
            rows.append(row)
        plots = [display_plot(LayerEncodingDisplay.from_results(encoding).plot(), "encoding r per layer")]
        first = next(iter(encoding.values()))
        if first.ceiling is not None:
            plots.append(display_plot(LayerEncodingDisplay.from_results(encoding, normalised=True).plot(), "normalised r per layer"))
        parts.append(Section("Encoding models, one per layer", pre=first.summary().splitlines()[0],
                             tables=[table(pd.DataFrame(rows), index=False)], rows=[plots]))
    if banded is not None:
        parts.append(Section("Banded encoding model", pre=banded.summary(),
                             rows=[[display_plot(BandWeightsDisplay.from_result(banded).plot(), "band weights")]]))
    if rsa:
        rows = [{"layer": k, "RSA": v.rsa["statistic"], "p": v.rsa.get("p_value"),
                 "CI low": (v.rsa.get("ci") or (np.nan, np.nan))[0], "CI high": (v.rsa.get("ci") or (np.nan, np.nan))[1],
                 "metric": v.settings.get("metric")} for k, v in rsa.items()]
        parts.append(Section("RSA with the brain, per layer", tables=[table(pd.DataFrame(rows), index=False)],
                             rows=[[display_plot(LayerRSADisplay.from_results(rsa).plot(), "RSA per layer")]]))
    return parts


def write_brain_report(out: str | Path, *, encoding: Mapping[str, Any] | None = None, banded: Any = None,
                       rsa: Mapping[str, Any] | None = None, title: str = "affectscope: layers and the brain") -> Path:
    """Write the page (any subset of the three analyses) and return its path."""
    return write_page(out, "document.html.j2", title=title, sections=brain_sections(encoding, banded, rsa))
