"""Category-level agreement: long-tail-aware classification metrics and distribution distances."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy.spatial import distance
from sklearn.metrics import confusion_matrix, f1_score

from affectscope.compare.pairing import CompareError, OnMissing, pair, training_overlap
from affectscope.ratings import KeyMode, Ratings
from affectscope.taxonomy import get_category_set, get_crosswalk

EPS = 1e-12


def head_class_collapse(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, head_share: float = 0.5) -> tuple[float, list[int]]:
    """How much prediction mass moves from rare (tail) to common (head) classes, relative to humans.

    The head is the smallest set of most frequent human classes covering at least ``head_share``
    of the items. With ``h_true`` and ``h_pred`` the shares of items whose true / predicted class
    is in the head, the index is ``(h_pred - h_true) / (1 - h_true)``: 0 when predictions keep the
    humans' head/tail balance, 1 when every tail item is predicted as a head class, negative when
    the rater over-predicts the tail.

    Returns
    -------
    (index, head classes)
    """
    counts = np.bincount(y_true, minlength=n_classes)
    order = np.argsort(-counts, kind="stable")
    cum = np.cumsum(counts[order]) / max(counts.sum(), 1)
    n_head = int(np.searchsorted(cum, head_share) + 1)
    head = sorted(order[:n_head].tolist())
    h_true = float(np.isin(y_true, head).mean())
    h_pred = float(np.isin(y_pred, head).mean())
    index = (h_pred - h_true) / (1 - h_true) if h_true < 1 else float("nan")
    return index, head


def distribution_metrics(p_true: np.ndarray, p_pred: np.ndarray) -> dict[str, float]:
    """Mean KL(human || rater), Jensen-Shannon divergence (base 2, 0-1) and cross-entropy over items.

    Rows are normalised to sum to 1. Rater probabilities are floored at 1e-12 for KL and CE (a
    category the rater gives exactly 0 would make them infinite); JS needs no floor. KL is
    :func:`scipy.special.rel_entr`, JS :func:`scipy.spatial.distance.jensenshannon` squared."""
    p = p_true / np.maximum(p_true.sum(axis=1, keepdims=True), EPS)
    q = p_pred / np.maximum(p_pred.sum(axis=1, keepdims=True), EPS)
    qe = np.maximum(q, EPS)
    kl = special.rel_entr(p, qe).sum(axis=1)
    ce = kl + special.entr(p).sum(axis=1)  # H(p, q) = H(p) + KL(p || q)
    js = distance.jensenshannon(p, q, base=2, axis=1) ** 2
    return {"kl": float(kl.mean()), "js": float(js.mean()), "cross_entropy": float(ce.mean())}


@dataclass
class CategoryComparison:
    """Classification and distribution agreement over one category set.

    Attributes
    ----------
    metrics : dict
        accuracy (= WAR), uar, macro_f1, top_k accuracies, kl, js, cross_entropy, head_collapse.
    per_class : pandas.DataFrame
        Per category: human count, predicted count, recall, precision, f1.
    confusion : pandas.DataFrame
        Rows: human majority; columns: rater's top category.
    taxonomy : str
    """

    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    taxonomy: str
    rater: str
    humans: str
    head_classes: list[str] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        m = self.metrics
        lines = [
            f"{self.rater} vs {self.humans} on {self.taxonomy} ({int(m['n'])} items)",
            f"accuracy (WAR) {m['accuracy']:.3f}  UAR {m['uar']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
            + "  ".join(f"top-{k} {m[f'top_{k}']:.3f}" for k in (2, 3) if f"top_{k}" in m),
            f"KL {m['kl']:.3f}  JS {m['js']:.3f}  cross-entropy {m['cross_entropy']:.3f}",
            f"head-class collapse {m['head_collapse']:+.3f} (head: {', '.join(self.head_classes)})",
            *self.notes,
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rater": self.rater, "humans": self.humans, "taxonomy": self.taxonomy, "metrics": self.metrics,
            "head_classes": self.head_classes, "per_class": self.per_class.to_dict("index"),
            "confusion": self.confusion.to_dict("split"), "dropped": {k: len(v) for k, v in self.dropped.items()},
            "notes": self.notes,
        }


def _probabilities(r: Ratings, taxonomy: str) -> pd.DataFrame | None:
    cols = r.columns_of("category", taxonomy=taxonomy)
    return r.data[list(get_category_set(taxonomy).columns)] if cols else None


def compare_categories(
    rater: Ratings,
    humans: Ratings,
    *,
    taxonomy: str | None = None,
    key: KeyMode = "item_id",
    on_missing: OnMissing = "raise",
    top_k: tuple[int, ...] = (2, 3),
) -> CategoryComparison:
    """Compare category outputs with human category distributions (votes or shares).

    The human label of an item is its most chosen category (ties: first in taxonomy order); the
    rater's is its highest-probability category. If the two tables use different category sets,
    the rater's is mapped onto the humans' through the registered crosswalks (mass that has no
    target is dropped from the argmax and reported by the crosswalk).

    Parameters
    ----------
    rater, humans : Ratings
        With ``category`` columns.
    taxonomy : str, optional
        The humans' category set (default: the only one they have).
    key, on_missing
        See :func:`compare_items`.
    top_k : tuple of int
    """
    human_sets = sorted({c.taxonomy for c in humans.columns.values() if c.kind == "category"})
    rater_sets = sorted({c.taxonomy for c in rater.columns.values() if c.kind == "category"})
    if not human_sets or not rater_sets:
        raise CompareError(f"both tables need category columns (humans: {human_sets or 'none'}, rater: {rater_sets or 'none'})")
    tax = taxonomy or (human_sets[0] if len(human_sets) == 1 else None)
    if tax is None or tax not in human_sets:
        raise CompareError(f"choose taxonomy= among the humans' category sets {human_sets}")
    p = pair(rater, humans, key=key, on_missing=on_missing)
    true = _probabilities(p.right, tax).to_numpy(float)  # type: ignore[union-attr]
    src = tax if tax in rater_sets else rater_sets[0]
    if tax in rater_sets:
        pred = _probabilities(p.left, tax).to_numpy(float)  # type: ignore[union-attr]
    else:
        pred = get_crosswalk(src, tax).apply(_probabilities(p.left, src)).drop(columns="unmapped").to_numpy(float)  # type: ignore[arg-type]
    bad = np.isnan(true).any(axis=1) | np.isnan(pred).any(axis=1) | (true.sum(axis=1) <= 0)
    ids = p.left.item_ids
    dropped = dict(p.dropped)
    if bad.any():
        bad_ids = [ids[i] for i in np.flatnonzero(bad)]
        if on_missing == "raise":
            raise CompareError(f"{len(bad_ids)} items have NaN or empty distributions (e.g. {bad_ids[:3]}); pass on_missing='drop'")
        dropped["nan_or_empty"] = bad_ids
        true, pred = true[~bad], pred[~bad]
    overlap = training_overlap(p.left, [i for i, b in zip(ids, bad, strict=True) if not b],
                               p.left.columns_of("category", taxonomy=src), f"{src} category")
    names = list(get_category_set(tax).columns)
    k = len(names)
    y_true = true.argmax(axis=1)
    y_pred = pred.argmax(axis=1)
    present = sorted(set(y_true.tolist()))
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    support = cm.sum(axis=1)
    metrics: dict[str, float] = {
        "n": float(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()),
        # UAR: mean recall over the classes humans used (sklearn's balanced accuracy)
        "uar": float(np.mean(np.diag(cm)[present] / support[present])),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }
    metrics["war"] = metrics["accuracy"]
    ranks = np.argsort(-pred, axis=1, kind="stable")
    for kk in top_k:
        metrics[f"top_{kk}"] = float((ranks[:, :kk] == y_true[:, None]).any(axis=1).mean())
    metrics.update(distribution_metrics(true, pred))
    collapse, head = head_class_collapse(y_true, y_pred, k)
    metrics["head_collapse"] = float(collapse)
    confusion = pd.DataFrame(cm, index=pd.Index(names, name="human"), columns=pd.Index(names, name="rater"))
    predicted = cm.sum(axis=0)
    diag = np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, diag / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, diag / np.maximum(predicted, 1), np.nan)
        f1 = np.where((recall + precision) > 0, 2 * recall * precision / (recall + precision), 0.0)
    per_class = pd.DataFrame(
        {"human_count": support, "predicted_count": predicted, "recall": recall, "precision": precision, "f1": f1},
        index=pd.Index(names, name="category"),
    )
    return CategoryComparison(metrics, per_class, confusion, tax, rater.rater.name, humans.rater.name, [names[i] for i in head], dropped,
                              [n for n in [overlap.note()] if n])
