"""The study's figures, as Display objects (``RaterBarsDisplay.from_results(results).plot(ax=None)``):
r per rater and scale with CIs and the noise ceiling; how closely raters agree with each other and
with the humans; spreads across a rater's participants against the humans'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from affectscope.ratings import Ratings
from affectscope.report.plots import _plt
from affectscope.study.run import sd_shares


@dataclass
class RaterBarsDisplay:
    """Bars of ``statistic`` (default Pearson r) per scale and rater, with their CIs, and each scale's
    noise ceiling as a grey band (from the lowest to the highest ceiling the comparisons gave)."""

    values: pd.DataFrame  # rater x scale
    lo: pd.DataFrame
    hi: pd.DataFrame
    ceiling: pd.Series  # per scale
    statistic: str = "pearson"

    @classmethod
    def from_results(cls, results: pd.DataFrame, statistic: str = "pearson") -> "RaterBarsDisplay":
        items = results[results["level"] == "items"]
        if items.empty:
            raise ValueError("the results hold no item-level comparison (no scale shared with the humans)")

        def wide(stat: str) -> pd.DataFrame:
            sub = items[items["statistic"] == stat]
            return sub.pivot_table(index="rater", columns="scale", values="value", sort=False)

        ceil = wide("ceiling").max(axis=0) if "ceiling" in set(items["statistic"]) else pd.Series(dtype=float)
        return cls(wide(statistic), wide(statistic + "_lo"), wide(statistic + "_hi"), ceil, statistic)

    def plot(self, ax: Any = None) -> "RaterBarsDisplay":
        plt = _plt()
        raters, scales = list(self.values.index), list(self.values.columns)
        if ax is None:
            _, ax = plt.subplots(figsize=(max(4.5, 1.4 * len(scales) * max(1, len(raters)) / 2 + 2), 3.8))
        width = 0.8 / max(1, len(raters))
        x = np.arange(len(scales))
        for j, s in enumerate(scales):
            c = self.ceiling.get(s, np.nan)
            if np.isfinite(c):
                ax.fill_between([j - 0.45, j + 0.45], c, 1.0, color="0.88", zorder=0, label="above the noise ceiling" if j == 0 else None)
                ax.hlines(c, j - 0.45, j + 0.45, color="0.5", lw=1, zorder=1)
        for i, r in enumerate(raters):
            v = self.values.loc[r].reindex(scales).to_numpy(float)
            lo = self.lo.reindex(index=[r], columns=scales).to_numpy(float)[0] if r in self.lo.index else np.full(len(scales), np.nan)
            hi = self.hi.reindex(index=[r], columns=scales).to_numpy(float)[0] if r in self.hi.index else np.full(len(scales), np.nan)
            err = np.vstack([v - lo, hi - v])
            ax.bar(x - 0.4 + width * (i + 0.5), v, width * 0.9, yerr=np.where(np.isfinite(err), err, 0), capsize=3, label=r, zorder=2)
        ax.set_xticks(x, scales)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set(ylabel=f"{self.statistic} with the humans", ylim=(min(0.0, float(np.nanmin(self.values.to_numpy())) - 0.1), 1.0),
               title="agreement with the humans per scale (95 % CIs; grey: above the noise ceiling)")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class AgreementMatrixDisplay:
    """Pearson r between every two of the raters and the humans on one scale (items all share):
    is one model closer to another model than to the humans?"""

    matrix: pd.DataFrame
    scale: str
    n: int

    @classmethod
    def from_ratings(cls, tables: dict[str, Ratings], humans: Ratings, scale: str, humans_name: str = "humans") -> "AgreementMatrixDisplay":
        cols = {name: t.ok().values(scale) for name, t in tables.items() if scale in t.columns}
        cols[humans_name] = humans.values(scale)
        frame = pd.concat(cols, axis=1, join="inner").dropna()
        if len(frame) < 3:
            raise ValueError(f"fewer than 3 items rated on {scale!r} by every rater and the humans")
        return cls(frame.corr(), scale, len(frame))

    def plot(self, ax: Any = None) -> "AgreementMatrixDisplay":
        plt = _plt()
        m = self.matrix.to_numpy(float)
        k = len(m)
        if ax is None:
            _, ax = plt.subplots(figsize=(0.7 * k + 2.5, 0.7 * k + 1.8))
        im = ax.imshow(m, cmap="viridis", vmin=min(0.0, float(np.nanmin(m))), vmax=1)
        ax.set_xticks(range(k), list(self.matrix.columns), rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), list(self.matrix.index), fontsize=8)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if m[i, j] < 0.6 else "black")
        ax.set_title(f"{self.scale}: r between raters and humans (n = {self.n})", fontsize=9)
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class SpreadDisplay:
    """Per item, the SD across a rater's participants against the SD across human raters, each as a
    share of its scale's range (points below the diagonal: the rater's participants agree more)."""

    human_sd: np.ndarray
    rater_sd: np.ndarray
    scale: str
    rater_name: str

    @classmethod
    def from_ratings(cls, rater: Ratings, humans: Ratings, scale: str, rater_name: str = "rater") -> "SpreadDisplay":
        shares = sd_shares(rater.ok(), humans, scale)
        if shares is None:
            raise ValueError(f"both tables need a {scale}_sd column on a bounded scale (an LLM rater with participants > 1; "
                             "norms with SDs)")
        return cls(shares[1], shares[0], scale, rater_name)

    def plot(self, ax: Any = None) -> "SpreadDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(4, 4))
        ok = np.isfinite(self.human_sd) & np.isfinite(self.rater_sd)
        ax.scatter(self.human_sd[ok], self.rater_sd[ok], s=10, alpha=0.5, edgecolors="none")
        hi = float(max(np.max(self.human_sd[ok], initial=0.1), np.max(self.rater_sd[ok], initial=0.1)))
        ax.plot([0, hi], [0, hi], color="0.6", ls="--", lw=1)
        ratio = self.rater_sd[ok].mean() / self.human_sd[ok].mean() if ok.any() else np.nan
        ax.set(xlabel=f"humans: SD of {self.scale} (share of range)", ylabel=f"{self.rater_name}: SD over participants",
               title=f"{self.scale}: spread ratio {ratio:.2f} (n = {int(ok.sum())})")
        ax.title.set_fontsize(9)
        self.ax_, self.figure_ = ax, ax.figure
        return self
