"""Train heads on human norms, with a cross-validated report: what `affectscope train` runs.

The same code trains the heads shipped with affectscope (``scripts/train_default_heads.py``).

Cross-validation is K-fold over items, or grouped K-fold when items come in groups (frames of one
video), so that no group straddles folds. Out-of-fold predictions are compared with the norms by
:func:`affectscope.compare.compare_items` (r with bootstrap CIs, noise ceiling where the norms
carry SD and N) and :func:`affectscope.compare.compare_categories` (accuracy, UAR, macro-F1, KL/JS).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope._progress import Progress
from affectscope.features import Features
from affectscope.heads import Head, HeadError, TrainingItems, fit_distribution_head, fit_scale_head
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import PROBABILITY
from affectscope.taxonomy.scales import Scale


@dataclass
class TrainReport:
    """Cross-validated metrics of a trained head.

    Attributes
    ----------
    kind : {"scale", "distribution"}
    folds : int
    n_items : int
    metrics : dict
        ``compare_items(...).to_dict()`` or ``compare_categories(...).to_dict()`` of the
        out-of-fold predictions.
    oof : Ratings
        The out-of-fold predictions themselves.
    """

    kind: str
    folds: int
    n_items: int
    metrics: dict[str, Any]
    oof: Ratings
    summary_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.folds}-fold cross-validation over {self.n_items} items\n{self.summary_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "folds": self.folds, "n_items": self.n_items, "metrics": self.metrics, **self.extra}


def _splits(n: int, folds: int, groups: Sequence[str] | None, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold, KFold

    if folds < 2:
        raise HeadError(f"folds must be at least 2, got {folds}")
    if groups is not None:
        n_groups = len(set(groups))
        if n_groups < folds:
            raise HeadError(f"{n_groups} groups (videos) are too few for {folds}-fold grouped CV; lower --folds")
        gkf = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(gkf.split(np.zeros(n), groups=list(groups)))
    if n < folds:
        raise HeadError(f"{n} items are too few for {folds}-fold CV; lower --folds")
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def _fit(kind: str, blocks: Mapping[str, np.ndarray], names: Sequence[str], y: np.ndarray, outputs: Sequence[str],
         scales: Mapping[str, Scale], head_kw: Mapping[str, Any]) -> Head:
    if kind == "scale":
        return fit_scale_head(blocks, names, y, outputs, scales, **head_kw)
    return fit_distribution_head(blocks, names, y, outputs, **head_kw)


def _group_mean(pred: np.ndarray, groups: Sequence[str]) -> tuple[list[str], np.ndarray]:
    frame = pd.DataFrame(pred)
    frame["g"] = list(groups)
    m = frame.groupby("g", sort=False).mean()
    return [str(g) for g in m.index], m.to_numpy()


def train_head(
    features: Features,
    norms: Ratings,
    *,
    columns: Sequence[str] | None = None,
    taxonomy: str | None = None,
    blocks: Sequence[str] | None = None,
    groups: Mapping[str, str] | None = None,
    folds: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
    head_kw: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    item_keys: Mapping[str, str] | None = None,
) -> tuple[Head, TrainReport]:
    """Cross-validate, then fit a head on all items.

    Parameters
    ----------
    features : Features
        Backbone features; ``features.item_ids`` are frames or images.
    norms : Ratings
        Human norms. Scale columns are learned on their own scale (convert beforehand with
        ``Ratings.convert`` to learn another). Keyed by item id, or by group id when ``groups``
        is given.
    columns : sequence of str, optional
        Scale columns to learn (a scale head).
    taxonomy : str, optional
        Learn the category distribution of this category set instead (a distribution head).
    blocks : sequence of str, optional
        Feature blocks to use (default: all the backbone produced).
    groups : mapping, optional
        item id -> group id (e.g. frame -> video). Items of one group share the group's norms,
        CV folds never split a group, and predictions are averaged per group before scoring.
    folds, seed : int
    n_boot : int
        Bootstrap resamples for the CIs in the report.
    head_kw : mapping
        Passed to :func:`fit_scale_head` or :func:`fit_distribution_head`.
    meta : mapping
        Stored in the head file (backbone, view, data provenance).
    item_keys : mapping, optional
        Norms key (item id, or group id with ``groups``) -> content key of its stimulus
        (:meth:`Stimulus.signature`). The head then records what it was trained on, with each
        item's out-of-fold prediction (:class:`affectscope.heads.TrainingItems`), so that raters
        can flag in-sample ratings of training pictures or give their cross-validated ones.
    """
    from affectscope.compare import compare_categories, compare_items

    if (columns is None) == (taxonomy is None):
        raise HeadError("give either scale columns or a taxonomy (a category distribution) to learn")
    names = list(blocks or features.blocks)
    kind = "scale" if columns is not None else "distribution"
    if kind == "scale":
        outputs = list(columns or [])
        missing = [c for c in outputs if c not in norms.columns]
        if missing:
            raise HeadError(f"norms have no column(s) {missing}; they have {list(norms.columns)}")
        not_scale = [c for c in outputs if norms.columns[c].kind != "scale"]
        if not_scale:
            raise HeadError(f"column(s) {not_scale} are not rating scales; pass scale columns or --taxonomy")
    else:
        outputs = norms.columns_of("category", taxonomy=taxonomy)
        if not outputs:
            have = sorted({c.taxonomy for c in norms.columns.values() if c.kind == "category"})
            raise HeadError(f"norms have no category columns of taxonomy {taxonomy!r}; they have {have or 'none'}")
    scales = {c: norms.columns[c].scale for c in outputs if kind == "scale" and norms.columns[c].scale is not None}

    # items with features and complete norms
    key_of = (lambda i: groups[i]) if groups is not None else (lambda i: i)  # noqa: E731
    table = norms.data[outputs]
    usable = [i for i in features.item_ids if key_of(i) in table.index and np.isfinite(table.loc[key_of(i)].to_numpy(float)).all()]
    if not usable:
        raise HeadError("no item has both features and complete norms: check that item ids match (see `affectscope compare --key`)")
    f = features.subset(usable)
    y = table.loc[[key_of(i) for i in usable]].to_numpy(float)
    grp = [key_of(i) for i in usable] if groups is not None else None
    kw = dict(head_kw or {})

    oof = np.zeros_like(y)
    for tr, te in _splits(len(usable), folds, grp, seed):
        head = _fit(kind, {n: f.blocks[n][tr] for n in names}, names, y[tr], outputs, scales, kw)
        oof[te] = head.predict({n: f.blocks[n][te] for n in names})
    ids = usable
    if grp is not None:
        ids, oof = _group_mean(oof, grp)
    if kind == "scale":
        specs = [ColumnSpec(name=c, scale=scales.get(c)) for c in outputs]
    else:
        specs = [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=taxonomy) for c in outputs]
    oof_ratings = Ratings(pd.DataFrame(oof, index=pd.Index(ids, name="item_id"), columns=outputs).reset_index(), specs,
                          RaterInfo(name="cv-oof", kind="model", params={"folds": folds, "seed": seed}))
    if kind == "scale":
        cmp = compare_items(oof_ratings, norms, columns=outputs, on_missing="drop", n_boot=n_boot, random_state=seed)
    else:
        cmp = compare_categories(oof_ratings, norms, taxonomy=taxonomy, on_missing="drop")
    report = TrainReport(kind, folds, len(ids), cmp.to_dict(), oof_ratings, cmp.summary())

    m = dict(meta or {})
    m["cv"] = {"folds": folds, "seed": seed, "n_items": len(ids), "grouped": grp is not None,
               "metrics": _headline(kind, cmp.to_dict())}
    final = _fit(kind, {n: f.blocks[n] for n in names}, names, y, outputs, scales, {**kw, "meta": m})
    if item_keys is not None:
        rows = [(item_keys[i], r) for r, i in enumerate(ids) if i in item_keys]
        if rows:
            final.training = TrainingItems([k for k, _ in rows], oof[[r for _, r in rows]])
    return final, report


def _headline(kind: str, d: dict[str, Any]) -> dict[str, Any]:
    if kind == "scale":
        return {c: {k: row[k] for k in ("n", "pearson", "pearson_lo", "pearson_hi", "mae", "ceiling") if k in row}
                for c, row in d["scales"].items()}
    return {k: d["metrics"][k] for k in ("n", "accuracy", "uar", "macro_f1", "kl", "js") if k in d["metrics"]}


def video_frames_as_stimuli(stimuli: StimulusSet, frames: int, folder: str | os.PathLike[str], *, progress: bool = True
                            ) -> tuple[StimulusSet, dict[str, str], dict[str, str]]:
    """Replace every video of ``stimuli`` by ``frames`` uniformly sampled frames saved as PNG in
    ``folder`` (reused when already there); images pass through.

    Returns ``(stimuli, groups, errors)``: frame ids are ``"<video id>#<frame index>"``, ``groups``
    maps every item to its video (or itself), ``errors`` holds videos that could not be decoded.
    """
    from PIL import Image

    from affectscope.media.video import sample_uniform
    from affectscope.raters.base import _describe

    folder = Path(folder)
    out: list[Stimulus] = []
    groups: dict[str, str] = {}
    errors: dict[str, str] = {}
    bar = Progress(len(stimuli), desc="sampling video frames", unit="video", enabled=progress)
    for s in list(stimuli):
        bar.update(1)
        if s.kind != "video":
            out.append(s)
            groups[s.item_id] = s.item_id
            continue
        tag = hashlib.sha256(f"{s.item_id}|{s.signature()}|{frames}".encode()).hexdigest()[:16]
        sub = folder / tag
        done = sorted(sub.glob("*.png")) if (sub / "DONE").exists() else []
        if not done:
            try:
                sampled = sample_uniform(s.path, frames)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - one bad video never kills the run
                errors[s.item_id] = _describe(exc)
                continue
            sub.mkdir(parents=True, exist_ok=True)
            for fr in sampled:
                Image.fromarray(fr.rgb).save(sub / f"{fr.index:07d}.png")
            (sub / "DONE").write_text("ok")
            done = sorted(sub.glob("*.png"))
        for p in done:
            fid = f"{s.item_id}#{int(p.stem)}"
            out.append(Stimulus(fid, p, "image", {"video": s.item_id}))
            groups[fid] = s.item_id
    bar.close()
    return StimulusSet(out), groups, errors
