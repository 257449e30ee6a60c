"""Plots of comparison results, as Display objects (scikit-learn's pattern):
``ScatterDisplay.from_comparison(result, "valence").plot(ax=None)`` returns the display with
``.ax_`` and ``.figure_`` set, so plots compose into a user's own figures.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def figure_data_uri(fig: Any, dpi: int = 100) -> str:
    """A matplotlib figure as an embeddable ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class ScatterDisplay:
    """Rater vs human values of one scale, with the identity line and r [CI]."""

    human: np.ndarray
    rater: np.ndarray
    scale: str
    r: float
    ci: tuple[float, float]
    rater_name: str = "rater"
    human_name: str = "humans"
    ceiling: float = float("nan")

    @classmethod
    def from_comparison(cls, result: Any, scale: str) -> "ScatterDisplay":
        if scale not in result.values:
            raise KeyError(f"no values for scale {scale!r}; compared scales: {list(result.values)}")
        v = result.values[scale]
        row = result.table.loc[scale]
        return cls(v["human"].to_numpy(), v["rater"].to_numpy(), scale, float(row["pearson"]),
                   (float(row["pearson_lo"]), float(row["pearson_hi"])), result.rater, result.humans,
                   float(row.get("ceiling", float("nan"))))

    def plot(self, ax: Any = None) -> "ScatterDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(4.2, 4))
        ax.scatter(self.human, self.rater, s=10, alpha=0.5, edgecolors="none")
        lo = float(np.nanmin([self.human.min(), self.rater.min()]))
        hi = float(np.nanmax([self.human.max(), self.rater.max()]))
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, ls="--", label="identity")
        ok = np.isfinite(self.human) & np.isfinite(self.rater)
        if ok.sum() >= 3 and np.ptp(self.human[ok]) > 0:
            slope, icept = np.polyfit(self.human[ok], self.rater[ok], 1)
            ax.plot([lo, hi], [icept + slope * lo, icept + slope * hi], color="tab:red", lw=1.2,
                    label=f"least squares (slope {slope:.2f})")
        ceil = f"; noise ceiling {self.ceiling:.3f}" if np.isfinite(self.ceiling) else ""
        ax.set(xlabel=f"{self.human_name}: {self.scale}", ylabel=f"{self.rater_name}: {self.scale}",
               title=f"{self.scale}: r = {self.r:.3f} [{self.ci[0]:.3f}, {self.ci[1]:.3f}], n = {len(self.human)}{ceil}")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="upper left")
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class ConfusionDisplay:
    """Confusion matrix, rows = human majority category, columns = rater's top category."""

    matrix: np.ndarray
    labels: list[str]
    normalize: str | None = "true"

    @classmethod
    def from_comparison(cls, result: Any, normalize: str | None = "true") -> "ConfusionDisplay":
        if normalize not in (None, "true"):
            raise ValueError(f"normalize must be None or 'true', got {normalize!r}")
        return cls(result.confusion.to_numpy(float), list(result.confusion.index), normalize)

    def plot(self, ax: Any = None) -> "ConfusionDisplay":
        """Draw with :class:`sklearn.metrics.ConfusionMatrixDisplay`; each row's label carries its
        item count (the normalised cells hide it)."""
        from sklearn.metrics import ConfusionMatrixDisplay

        plt = _plt()
        m = self.matrix
        if self.normalize == "true":
            m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        if ax is None:
            _, ax = plt.subplots(figsize=(0.5 * len(self.labels) + 2.5, 0.5 * len(self.labels) + 2))
        disp = ConfusionMatrixDisplay(m, display_labels=self.labels)
        disp.plot(ax=ax, cmap="Blues", values_format=".2f" if self.normalize else ".0f", xticks_rotation=60,
                  im_kw={"vmin": 0, "vmax": 1} if self.normalize else None, text_kw={"fontsize": 6}, colorbar=True)
        ax.set_xticks(range(len(self.labels)), self.labels, rotation=60, ha="right", fontsize=8)
        rows = self.matrix.sum(axis=1)
        ax.set_yticks(range(len(self.labels)), [f"{lab} (n={int(k)})" for lab, k in zip(self.labels, rows, strict=True)], fontsize=8)
        ax.set(xlabel="rater's top category", ylabel="human majority category")
        self.ax_, self.figure_ = ax, ax.figure
        self.text_ = disp.text_
        return self


def _category_order(categories: Any, n: int) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """Item order grouping equal categories (stable, categories in order of size) and the blocks
    ``(label, start, stop)``; without categories, items in their order and no blocks."""
    if categories is None:
        return np.arange(n), []
    cats = np.asarray(categories).astype(str)
    names, counts = np.unique(cats, return_counts=True)
    rank = {c: k for k, c in enumerate(names[np.argsort(-counts, kind="stable")])}
    order = np.argsort([rank[c] for c in cats], kind="stable")
    size = dict(zip(names, counts, strict=True))
    blocks, start = [], 0
    for c in sorted(rank, key=rank.get):  # type: ignore[arg-type]
        blocks.append((c, start, start + int(size[c])))
        start += int(size[c])
    return order, blocks


def _label_blocks(ax: Any, blocks: list[tuple[str, int, int]], n: int) -> None:
    """Lines between category blocks and a tick label at each block's middle (small blocks unlabelled)."""
    if not blocks:
        ax.set(xticks=[], yticks=[])
        return
    for _, _, stop in blocks[:-1]:
        ax.axvline(stop - 0.5, color="white", lw=0.6)
        ax.axhline(stop - 0.5, color="white", lw=0.6)
    shown = [(c, (a + b - 1) / 2) for c, a, b in blocks if (b - a) >= 0.02 * n]
    pos, labels = [p for _, p in shown], [c.replace("|", " | ") for c, _ in shown]
    ax.set_xticks(pos, labels, rotation=60, ha="right", fontsize=6)
    ax.set_yticks(pos, labels, fontsize=6)


def _percentile(m: np.ndarray) -> np.ndarray:
    """Dissimilarities as percentiles (0-100) of the off-diagonal values: one colour scale for RDMs
    on different metrics, as rank-transformed RDMs are shown in RSA."""
    from scipy.stats import rankdata

    iu = np.triu_indices(len(m), 1)
    out = np.zeros_like(m, dtype=float)
    if len(iu[0]):
        out[iu] = 100 * (rankdata(m[iu]) - 1) / max(len(iu[0]) - 1, 1)
    return out + out.T


@dataclass
class RDMDisplay:
    """Two RDMs side by side in one item order (grouped by category where categories are given),
    each as percentiles of its dissimilarities so one colour scale serves both."""

    a: np.ndarray
    b: np.ndarray
    a_name: str
    b_name: str
    statistic: float
    method: str
    categories: Any = None

    @classmethod
    def from_comparison(cls, result: Any) -> "RDMDisplay":
        if result.rdm_a is None or result.rdm_b is None:
            raise ValueError("this structure comparison holds no RDMs")
        return cls(result.rdm_a.matrix(), result.rdm_b.matrix(), result.a_name, result.b_name,
                   float(result.rsa["statistic"]), str(result.rsa["method"]), getattr(result, "categories", None))

    def plot(self, axes: Any = None) -> "RDMDisplay":
        plt = _plt()
        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(9, 4.4), constrained_layout=True)
        order, blocks = _category_order(self.categories, len(self.a))
        im = None
        for ax, m, name in zip(axes, (self.a, self.b), (self.a_name, self.b_name), strict=True):
            im = ax.imshow(_percentile(m)[np.ix_(order, order)], cmap="viridis", vmin=0, vmax=100)
            ax.set_title(f"{name} RDM ({len(m)} items)", fontsize=9)
            _label_blocks(ax, blocks, len(m))
        cb = axes[0].figure.colorbar(im, ax=list(axes), fraction=0.03)
        cb.set_label("dissimilarity percentile", fontsize=8)
        axes[0].figure.suptitle(f"RSA {self.method}: {self.statistic:.3f}" + (" (items grouped by category)" if blocks else ""),
                                fontsize=10)
        self.axes_, self.figure_ = axes, axes[0].figure
        return self


@dataclass
class PlanDisplay:
    """A Gromov-Wasserstein transport plan (rows: items of a, columns: items of b, one order), with
    the diagonal every correct item match lies on and category blocks where categories are given."""

    plan: np.ndarray
    value: float
    epsilon: float
    categories: Any = None

    @classmethod
    def from_comparison(cls, result: Any) -> "PlanDisplay":
        if result.gw is None:
            raise ValueError("this structure comparison ran without GW (gw=False)")
        return cls(result.gw.plan, float(result.gw.value), float(result.gw.epsilon), getattr(result, "categories", None))

    def plot(self, ax: Any = None) -> "PlanDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(4.8, 4.4), constrained_layout=True)
        n = len(self.plan)
        order, blocks = _category_order(self.categories, n)
        im = ax.imshow(self.plan[np.ix_(order, order)] * n, cmap="magma_r", vmin=0)
        ax.plot([-0.5, n - 0.5], [-0.5, n - 0.5], color="tab:cyan", lw=0.7, ls="--", label="own counterpart")
        ax.set_title(f"GW plan x n (objective {self.value:.3g}, eps {self.epsilon:.2g})", fontsize=9)
        ax.set(xlabel="items of b", ylabel="items of a")
        _label_blocks(ax, blocks, n)
        ax.legend(fontsize=7, loc="lower left")
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class DistributionDisplay:
    """Histogram of one rating column over items, on its scale's range."""

    values: np.ndarray
    name: str
    low: float | None = None
    high: float | None = None
    rater_name: str = "rater"

    @classmethod
    def from_ratings(cls, ratings: Any, column: str) -> "DistributionDisplay":
        spec = ratings.columns.get(column)
        if spec is None:
            raise KeyError(f"no column {column!r}; columns: {list(ratings.columns)}")
        v = ratings.data[column].to_numpy(float)
        sc = spec.scale
        return cls(v[~np.isnan(v)], column, sc.low if sc else None, sc.high if sc else None, ratings.rater.name)

    def plot(self, ax: Any = None) -> "DistributionDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(3.6, 2.6))
        rng = (self.low, self.high) if self.low is not None and self.high is not None else None
        ax.hist(self.values, bins=20, range=rng, color="#4a7bd0", alpha=0.85)
        mean = float(np.mean(self.values)) if len(self.values) else float("nan")
        ax.set(xlabel=self.name, ylabel="items", title=f"{self.name}: mean {mean:.2f}, n = {len(self.values)}")
        ax.title.set_fontsize(9)
        self.ax_, self.figure_ = ax, ax.figure
        return self


@dataclass
class CategoryDistributionDisplay:
    """The emotion distribution of a table: per category, the mean probability over items and the
    share of items whose top category it is (ties split), side by side."""

    categories: list[str]
    mean: np.ndarray
    top_share: np.ndarray
    taxonomy: str
    n: int

    @classmethod
    def from_ratings(cls, ratings: Any, taxonomy: str | None = None) -> "CategoryDistributionDisplay":
        specs = [c for c in ratings.columns.values() if c.kind == "category" and (taxonomy is None or c.taxonomy == taxonomy)]
        if not specs:
            raise KeyError(f"no category columns{f' of {taxonomy!r}' if taxonomy else ''}; columns: {list(ratings.columns)}")
        tax = specs[0].taxonomy or ""
        cols = [c.name for c in specs if c.taxonomy == specs[0].taxonomy]
        p = ratings.data[cols].to_numpy(float)
        p = p[~np.isnan(p).any(axis=1)]
        top = (p == p.max(axis=1, keepdims=True)) if len(p) else np.zeros((0, len(cols)), bool)
        share = (top / np.maximum(top.sum(axis=1, keepdims=True), 1)).mean(axis=0) if len(p) else np.zeros(len(cols))
        return cls(cols, p.mean(axis=0) if len(p) else np.zeros(len(cols)), share, tax, len(p))

    def plot(self, ax: Any = None) -> "CategoryDistributionDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(self.categories) + 1.5), 3.0), constrained_layout=True)
        x = np.arange(len(self.categories))
        ax.bar(x - 0.2, self.mean, 0.4, label="mean probability", color="#4a7bd0")
        ax.bar(x + 0.2, self.top_share, 0.4, label="share of items, top category", color="#e0913a")
        ax.set_xticks(x, self.categories, rotation=50, ha="right", fontsize=7)
        ax.set(ylabel="share", ylim=(0, max(1e-9, float(max(self.mean.max(initial=0), self.top_share.max(initial=0)))) * 1.15))
        ax.set_title(f"emotion distribution ({self.taxonomy}), n = {self.n}", fontsize=9)
        ax.legend(fontsize=7)
        self.ax_, self.figure_ = ax, ax.figure
        return self


_EPISODE = re.compile(r"(?P<onset>[-\d.]+)-(?P<offset>[\d.]+) s(?: \(peak [\d.]+ at (?P<peak>[\d.]+) s\))?")


def episode_span(episode: str) -> tuple[float, float, float | None] | None:
    """``(onset, offset, peak time)`` in seconds of an ``episode`` text as the face rater writes
    it (``"surprise 1.00-1.40 s (peak 0.93 at 1.20 s)"``); None when there is none."""
    m = _EPISODE.search(episode or "")
    if m is None:
        return None
    return float(m["onset"]), float(m["offset"]), float(m["peak"]) if m["peak"] else None


@dataclass
class TimeSeriesDisplay:
    """Per-frame values of one video over time (a face or image rater series).

    ``probs`` are plotted on 0-1 (only those that reach 0.2 somewhere, so the legend stays
    readable); with ``ylim`` set (e.g. ``(1, 9)`` for SAM scales) every series is plotted.
    """

    time: np.ndarray
    probs: dict[str, np.ndarray]
    title: str = ""
    episode: str = ""
    ylabel: str = "probability"
    ylim: tuple[float, float] | None = None

    @classmethod
    def from_series(cls, series: Any, labels: list[str], title: str = "", episode: str = "", *,
                    ylabel: str = "probability", ylim: tuple[float, float] | None = None) -> "TimeSeriesDisplay":
        missing = [c for c in ["time", *labels] if c not in series.columns]
        if missing:
            raise KeyError(f"the series lacks columns {missing}")
        return cls(series["time"].to_numpy(float), {c: series[c].to_numpy(float) for c in labels}, title, episode, ylabel, ylim)

    def plot(self, ax: Any = None) -> "TimeSeriesDisplay":
        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 2.6))
        for name, p in self.probs.items():
            if self.ylim is not None or np.nanmax(p, initial=0) >= 0.2:
                ax.plot(self.time, p, marker=".", ms=4, lw=1.2, label=name)
        ax.set(xlabel="time (s)", ylabel=self.ylabel, ylim=self.ylim or (0, 1),
               title=self.title + (f"\n{self.episode}" if self.episode else ""))
        span = episode_span(self.episode)
        if span is not None:  # the strongest episode, shaded; its peak marked
            onset, offset, peak_time = span
            step = float(np.median(np.diff(self.time))) / 2 if len(self.time) > 1 else 0.05
            ax.axvspan(onset - step, offset + step, color="tab:orange", alpha=0.15, lw=0, label="episode")
            if peak_time is not None:
                ax.axvline(peak_time, color="tab:orange", lw=1, ls=":")
        ax.title.set_fontsize(9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right")
        self.ax_, self.figure_ = ax, ax.figure
        return self
