"""Shared by the image-rater benchmark and the default-head training script: norms with SAM 1-9
valence/arousal and backbone features for OASIS and Emotion6 (reads ../shared/data)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from affectscope.backbones.efficientnet_lite import make_backbone
from affectscope.training.features import Features, extract_features
from affectscope.norms import NormsError, load_norms
from affectscope.ratings import ColumnSpec, RaterInfo, Ratings
from affectscope.stimuli import StimulusSet
from affectscope.taxonomy import SAM_AROUSAL, SAM_VALENCE
from affectscope.training.train import RECIPES, stage_weights

STAGES = ("stage5", "stage6", "stage7", "head")
#: The shipped heads' recipe lives in one place, :data:`affectscope.training.train.RECIPES` ("shipped"):
#: its blocks, and its stage weight (mid-level stages at 0.6 of the weight of the pooled head and the
#: ImageNet logits; chosen on OASIS 10-fold CV among 0.35-1.0, where 0.5-0.7 were equal within
#: 0.001; see MODEL_CARD.md).
SHIPPED = RECIPES["shipped"]
SHIPPED_STAGES = tuple(SHIPPED.blocks.split(","))
STAGE_WEIGHT = SHIPPED.stage_weight


def shipped_weights(names: list[str]) -> dict[str, float]:
    return stage_weights(names, STAGE_WEIGHT)


def load_sets(data_root: str | None) -> dict[str, Ratings]:
    """OASIS (converted explicitly from 1-7 to SAM 1-9) and Emotion6 dev (already 1-9)."""
    try:
        oasis = load_norms("oasis", data_root).convert("valence", "valence:sam9").convert("arousal", "arousal:sam9")
        e6 = load_norms("emotion6", data_root)
    except NormsError as exc:
        sys.exit(f"this script needs the human norms in ../shared/data (or --data-root): {exc}")
    return {"oasis": oasis, "emotion6": e6}


def features_for(norms: Ratings, spec: str, view: str, cache: str, pooling: str = "mean+std") -> Features:
    st = StimulusSet.from_list(norms.data["path"].tolist(), ids=norms.item_ids)
    return extract_features(st, make_backbone(spec, pooling=pooling), view=view, cache=cache, progress=True)


def block_names(spec: str, stages: tuple[str, ...] = STAGES) -> list[str]:
    parts = spec.split("+")
    return [f"{p}/{s}" if len(parts) > 1 else s for p in parts for s in stages]


def combine(named: dict[str, tuple[Ratings, Features]], columns: list[str]) -> tuple[Ratings, Features]:
    """One norms table and one feature set from several data sets, ids prefixed ``"<set>:"``."""
    frames, blocks, ids = [], {}, []
    for name, (r, f) in named.items():
        d = r.data.loc[f.item_ids, columns].copy()
        d.index = [f"{name}:{i}" for i in d.index]
        frames.append(d)
        ids += list(d.index)
        for k, v in f.blocks.items():
            blocks.setdefault(k, []).append(v)
    data = pd.concat(frames)
    data.index.name = "item_id"
    specs = [ColumnSpec(name="valence", scale=SAM_VALENCE), ColumnSpec(name="arousal", scale=SAM_AROUSAL)]
    norms = Ratings(data.reset_index(), [s for s in specs if s.name in columns],
                    RaterInfo(name="+".join(named), kind="human", source="combined norms"))
    return norms, Features(ids, {k: np.concatenate(v) for k, v in blocks.items()})


def with_derived(features: Features, keys: dict[str, str]) -> Features:
    """``features`` plus the derived blocks (:mod:`affectscope.training.derived`); ``keys``: item id -> content
    key, so the basic-emotion head's training pictures get its out-of-fold probabilities."""
    from affectscope.training.derived import DERIVED, add_derived

    return Features(features.item_ids, add_derived(features.blocks, DERIVED, keys=[keys.get(i) for i in features.item_ids]))


def default_cache() -> str:
    from affectscope.backbones.weights import cache_dir

    return str(Path(cache_dir()) / "features.sqlite")
