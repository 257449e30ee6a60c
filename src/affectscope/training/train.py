"""Train heads on human norms, with a cross-validated report: what `affectscope train` runs.

The same code trains the heads shipped with affectscope (``scripts/train_default_heads.py``).

Cross-validation is K-fold over items, or grouped K-fold when items come in groups (frames of one
video), so that no group straddles folds. Out-of-fold predictions are compared with the norms by
:func:`affectscope.compare.compare_items` (r with bootstrap CIs, noise ceiling where the norms
carry SD and N) and :func:`affectscope.compare.compare_categories` (accuracy, UAR, macro-F1, KL/JS).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope._params import InvalidParameterError
from affectscope._progress import Progress
from affectscope.compare import compare_categories, compare_items
from affectscope.training.features import Features
from affectscope.training.heads import Head, HeadError, TrainingItems, fit_distribution_head, fit_scale_head
from affectscope.media.image import describe_error
from affectscope.media.video import sample_uniform
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.stimuli import Stimulus, StimulusSet
from affectscope.taxonomy import PROBABILITY
from affectscope.taxonomy.scales import Scale


@dataclass
class TrainReport:
    """Cross-validated metrics of a trained head.

    Attributes
    ----------
    target : {"scale", "distribution"}
        What the head predicts (its JSON report keeps the key ``"kind"``).
    folds : int
    n_items : int
    metrics : dict
        ``compare_items(...).to_dict()`` or ``compare_categories(...).to_dict()`` of the
        out-of-fold predictions.
    oof : Ratings
        The out-of-fold predictions themselves.
    """

    target: str
    folds: int
    n_items: int
    metrics: dict[str, Any]
    oof: Ratings
    summary_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.folds}-fold cross-validation over {self.n_items} items\n{self.summary_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.target, "folds": self.folds, "n_items": self.n_items, "metrics": self.metrics, **self.extra}


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


def _fit(target: str, blocks: Mapping[str, np.ndarray], names: Sequence[str], y: np.ndarray, outputs: Sequence[str],
         scales: Mapping[str, Scale], head_kw: Mapping[str, Any]) -> Head:
    if target == "scale":
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
        item's out-of-fold prediction (:class:`affectscope.training.heads.TrainingItems`), so that raters
        can flag in-sample ratings of training pictures or give their cross-validated ones.
    """

    if (columns is None) == (taxonomy is None):
        raise HeadError("give either scale columns or a taxonomy (a category distribution) to learn")
    names = list(blocks or features.blocks)
    target = "scale" if columns is not None else "distribution"
    if target == "scale":
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
    scales = {c: norms.columns[c].scale for c in outputs if target == "scale" and norms.columns[c].scale is not None}

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
        head = _fit(target, {n: f.blocks[n][tr] for n in names}, names, y[tr], outputs, scales, kw)
        oof[te] = head.predict({n: f.blocks[n][te] for n in names})
    ids = usable
    if grp is not None:
        ids, oof = _group_mean(oof, grp)
    if target == "scale":
        specs = [ColumnSpec(name=c, scale=scales.get(c)) for c in outputs]
    else:
        specs = [ColumnSpec(name=c, kind="category", scale=PROBABILITY, taxonomy=taxonomy) for c in outputs]
    oof_ratings = Ratings(pd.DataFrame(oof, index=pd.Index(ids, name="item_id"), columns=outputs).reset_index(), specs,
                          RaterInfo(name="cv-oof", kind="model", params={"folds": folds, "seed": seed}))
    if target == "scale":
        cmp = compare_items(oof_ratings, norms, columns=outputs, on_missing="drop", n_boot=n_boot, random_state=seed)
    else:
        cmp = compare_categories(oof_ratings, norms, taxonomy=taxonomy, on_missing="drop")
    report = TrainReport(target, folds, len(ids), cmp.to_dict(), oof_ratings, cmp.summary())

    m = dict(meta or {})
    m["cv"] = {"folds": folds, "seed": seed, "n_items": len(ids), "grouped": grp is not None,
               "metrics": _headline(target, cmp.to_dict())}
    final = _fit(target, {n: f.blocks[n] for n in names}, names, y, outputs, scales, {**kw, "meta": m})
    if item_keys is not None:
        rows = [(item_keys[i], r) for r, i in enumerate(ids) if i in item_keys]
        if rows:
            final.training = TrainingItems([k for k, _ in rows], oof[[r for _, r in rows]])
    return final, report


def _headline(target: str, d: dict[str, Any]) -> dict[str, Any]:
    if target == "scale":
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

    folder = Path(folder)
    out: list[Stimulus] = []
    groups: dict[str, str] = {}
    errors: dict[str, str] = {}
    bar = Progress(len(stimuli), desc="sampling video frames", unit="video", enabled=progress)
    for s in list(stimuli):
        bar.update(1)
        if s.media != "video":
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
                errors[s.item_id] = describe_error(exc)
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


# ---- from a norms table to a trained head: the pipeline of `affectscope train` -----------------------

#: Stage blocks of an EfficientNet-Lite read by the ``basic`` recipe.
DEFAULT_BLOCKS = "stage5,stage6,stage7,head"


@dataclass(frozen=True)
class Recipe:
    """Feature and head settings for :func:`train_from_norms`; each may be overridden by name.

    Attributes
    ----------
    backbone : str
        Network spec for :func:`affectscope.backbones.efficientnet_lite.make_backbone`.
    pooling : {"mean", "mean+std"}
        How each stage's feature map is pooled.
    view : str
        Views of each picture averaged into its features (``"full+flip"``: the whole picture and its mirror image).
    blocks : str
        Comma-separated feature blocks of each network (channels such as ``faces`` give all of theirs).
    model : {"linear", "kernel"}
        Scale head: ridge, or RBF kernel ridge on PCA.
    n_components : int
        PCA components of the kernel head.
    stage_weight : float
        Weight of the stage blocks relative to the pooled head and the logits (each block standardised first).
    derived : bool
        Add the blocks of :mod:`affectscope.training.derived` (the shipped basic-emotion head's probabilities, the
        concepts' word norms), each at :data:`affectscope.training.derived.DERIVED_WEIGHT`.
    """

    backbone: str
    pooling: str
    view: str
    blocks: str
    model: str
    n_components: int
    stage_weight: float
    derived: bool


#: ``affectscope train --recipe``. ``shipped`` is the recipe of the default image rater's heads, in
#: one place: ``scripts/train_default_heads.py`` reads it (OASIS valence r 0.782 against 0.691 for
#: ``basic`` in bench/image_rater.py, at about 4x the feature extraction time).
RECIPES: dict[str, Recipe] = {
    "basic": Recipe(backbone="lite0", pooling="mean", view="full+flip", blocks=DEFAULT_BLOCKS, model="linear",
                    n_components=256, stage_weight=1.0, derived=False),
    "shipped": Recipe(backbone="lite0+lite1+lite2", pooling="mean+std", view="full+flip",
                      blocks="stage5,stage6,stage7,head,logits", model="kernel", n_components=128, stage_weight=0.6,
                      derived=True),
}


def stage_weights(blocks: Sequence[str], weight: float) -> dict[str, float]:
    """``weight`` for every stage block (``"stage5"``, ``"lite1/stage6"`` ...), 1 for the others."""
    return {b: (weight if b.split("/")[-1].startswith("stage") else 1.0) for b in blocks}


def select_blocks(backbone: Any, requested: Sequence[str]) -> list[str]:
    """The requested blocks of every network in ``backbone`` (``"lite0/head"`` in an ensemble),
    and all blocks of every channel (a member with ``channel = True``, such as ``faces``).
    Raises ``ValueError`` naming the available blocks for one a network does not have."""
    members = list(backbone.members) if hasattr(backbone, "members") else [("", backbone)]
    out: list[str] = []
    for tag, b in members:
        own = list(b.blocks())
        if getattr(b, "channel", False):
            chosen = own
        else:
            missing = [n for n in requested if n not in own]
            if missing:
                raise ValueError(f"blocks {missing} are not blocks of {b!r}; available: {own}")
            chosen = list(requested)
        out += [f"{tag}/{n}" if tag else n for n in chosen]
    return out


@dataclass
class TrainResult:
    """What :func:`train_from_norms` made: the head (save it with ``head.save(path)``), its
    cross-validated report, how many stimuli matched the norms, and the items left out, with why."""

    head: Head
    report: TrainReport
    n_matched: int
    n_found: int
    skipped: dict[str, str] = field(default_factory=dict)


def train_from_norms(
    norms: Ratings,
    stimuli: StimulusSet | None = None,
    *,
    columns: Sequence[str] | None = None,
    taxonomy: str | None = None,
    recipe: str | Recipe = "basic",
    key: str = "item_id",
    frames: int = 8,
    folds: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
    balance: str = "none",
    tau: float = 0.0,
    C: float = 1.0,  # noqa: N803 - the usual name of the inverse penalty
    cache: str | os.PathLike[str] | None = None,
    trained_on: str = "",
    progress: bool = True,
    engine: str = "local",
    ray_workers: int = 2,
    **overrides: Any,
) -> TrainResult:
    """Train a head on human norms: match stimuli to the norms, sample videos into frames, extract
    (cached) features, add the derived blocks if asked, and run :func:`train_head` (K-fold CV report
    and final fit). This is ``affectscope train``.

    Parameters
    ----------
    norms : Ratings
        The human norms (scale columns, or a category distribution for ``taxonomy``).
    stimuli : StimulusSet, optional
        The stimulus files; default: the norms' ``path`` column.
    columns, taxonomy
        Scale columns to learn, or the category set of a distribution head (one of them).
    recipe : {"basic", "shipped"} or Recipe
        Feature and head settings (:data:`RECIPES`); ``overrides`` replace any of its fields
        (``backbone=``, ``pooling=``, ``view=``, ``blocks=``, ``model=``, ``n_components=``,
        ``stage_weight=``, ``derived=``).
    key : {"item_id", "name", "stem"}
        How stimulus ids match norm ids.
    frames : int
        Frames sampled per video (a video's frames stay in one CV fold).
    folds, seed, n_boot
        Cross-validation folds, their seed, bootstrap resamples for the CIs.
    balance, tau, C
        Distribution head: class weights, logit adjustment, inverse L2 penalty.
    cache : path, optional
        SQLite feature cache (reruns extract nothing); the sampled frames go beside it.
    trained_on : str
        What the norms are, for the head's metadata.
    engine, ray_workers
        ``engine="ray"``: features extracted by ``ray_workers`` Ray actors, the cache kept here
        (:func:`~affectscope.training.features.extract_features`).

    Raises
    ------
    ValueError
        Bad settings, or no stimulus matching the norms (the message says what to change).
    """
    from affectscope.backbones.efficientnet_lite import make_backbone
    from affectscope.training.derived import DERIVED, DERIVED_WEIGHT, add_derived
    from affectscope.training.features import extract_features
    from affectscope.ratings import match_key

    base = RECIPES[recipe] if isinstance(recipe, str) else recipe
    unknown = sorted(set(overrides) - set(Recipe.__dataclass_fields__))
    if unknown:
        raise TypeError(f"train_from_norms got unknown settings {unknown}; recipe settings are {list(Recipe.__dataclass_fields__)}")
    r = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if r.n_components < 1 or r.stage_weight <= 0:
        raise InvalidParameterError(f"n_components must be >= 1 and stage_weight > 0 (got {r.n_components}, {r.stage_weight})",
                                    params=("n_components", "stage_weight"))
    if bool(columns) == bool(taxonomy):
        raise InvalidParameterError("give columns (rating scales, e.g. valence,arousal) or taxonomy (a category distribution), one of them",
                                    params=("columns", "taxonomy"))
    if stimuli is None:
        if "path" not in norms.data.columns:
            raise ValueError("give the stimulus files or folders (the norms table has no 'path' column)")
        stimuli = StimulusSet.from_list(norms.data["path"].tolist(), ids=norms.item_ids)
    found = stimuli
    by_key = {match_key(i, key): i for i in norms.item_ids}
    matched = StimulusSet([Stimulus(by_key[match_key(s.item_id, key)], s.path, s.media, s.metadata)
                           for s in found if match_key(s.item_id, key) in by_key])
    if not len(matched):
        raise ValueError(f"none of the {len(found)} stimuli matches an item of the norms by {key!r} "
                         f"(e.g. stimulus {found.item_ids[:1]}, norms {norms.item_ids[:1]}); try key 'name' or 'stem'")
    # what the head is trained on, by content: raters flag (or cross-validate) ratings of these files later
    item_keys = {s.item_id: k for s in matched if (k := s.signature()).startswith("sha256:")}
    groups = None
    skipped: dict[str, str] = {}
    items = matched
    cache_path = Path(cache) if cache is not None else None
    if any(s.media == "video" for s in matched):
        frame_dir = cache_path.with_suffix(".frames") if cache_path is not None else Path("affectscope_frames")
        items, groups, skipped = video_frames_as_stimuli(matched, frames, frame_dir, progress=progress)
    backbone = make_backbone(r.backbone, pooling=r.pooling)
    feats = extract_features(items, backbone, view=r.view, cache=cache_path, progress=progress, engine=engine,
                             ray_workers=ray_workers)
    skipped.update(feats.errors)
    blocks = select_blocks(backbone, [b.strip() for b in r.blocks.split(",") if b.strip()])
    head_kw: dict[str, Any] = ({"model": r.model, "n_components": r.n_components} if columns
                               else {"balance": balance, "tau": tau, "C": C})
    if r.stage_weight != 1.0:
        head_kw["block_weights"] = {b: w for b, w in stage_weights(blocks, r.stage_weight).items() if w != 1.0}
    if r.derived:  # the shipped basic-emotion head's probabilities and the concepts' word norms
        try:
            feats = Features(feats.item_ids, add_derived(feats.blocks, DERIVED, keys=[item_keys.get(i) for i in feats.item_ids]))
        except HeadError as exc:
            raise HeadError(f"{exc} (or train without the derived blocks: derived=False, --no-derived)") from None
        blocks += list(DERIVED)
        head_kw["block_weights"] = {**head_kw.get("block_weights", {}), **{d: DERIVED_WEIGHT for d in DERIVED}}
    meta = {"backbone": {"spec": r.backbone, "pooling": r.pooling}, "view": r.view, "trained_on": trained_on,
            "n_stimuli": len(feats.item_ids), "taxonomy": taxonomy, "recipe": recipe if isinstance(recipe, str) else "custom",
            "stage_weight": r.stage_weight, "derived": bool(r.derived)}
    head, report = train_head(feats, norms, columns=list(columns) if columns else None, taxonomy=taxonomy, blocks=blocks,
                              groups=groups, folds=folds, seed=seed, n_boot=n_boot, head_kw=head_kw, meta=meta,
                              item_keys=item_keys)
    return TrainResult(head=head, report=report, n_matched=len(matched), n_found=len(found), skipped=skipped)
