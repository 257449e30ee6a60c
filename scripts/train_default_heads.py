"""Train the heads shipped with the default image rater (needs ../shared/data).

- ``image_valence_sam9.npz``: valence on SAM 1-9, trained on OASIS (900 images, converted
  explicitly from 1-7) + Emotion6 dev (1500 images, 1-9): RBF kernel ridge on PCA-128 of
  EfficientNet-Lite0/1/2 stage 5-7 (weight 0.6), pooled head and ImageNet logits (whole picture + mirror image),
- ``image_arousal_sam9.npz``: arousal on SAM 1-9, the same model trained on OASIS only, plus two derived
  blocks (weight 0.5, :mod:`affectscope.training.derived`): the basic-emotion head's probabilities and the word
  norms of the ImageNet concepts seen.
- ``image_basic_emotions.npz``: the distribution over anger, disgust, fear, joy, sadness, surprise,
  neutral (Emotion6 dev), soft-label logistic regression on the same features.

Writes the heads and their cross-validated metrics into src/affectscope/raters/heads/ and
refreshes the metrics table of MODEL_CARD.md there. Uses the same `train_head` as `affectscope train`.

Usage: python scripts/train_default_heads.py [--data-root DIR] [--cache FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _image_data import SHIPPED_STAGES, block_names, combine, default_cache, features_for, load_sets, shipped_weights, with_derived  # noqa: E402

from affectscope.training.derived import DERIVED, DERIVED_WEIGHT, basic_emotion_head  # noqa: E402
from affectscope.training.train import RECIPES, train_head  # noqa: E402

#: The recipe `affectscope train --recipe shipped` runs too (one place: affectscope.training.train.RECIPES).
RECIPE = RECIPES["shipped"]
SPEC, VIEW, POOLING = RECIPE.backbone, RECIPE.view, RECIPE.pooling
HEADS = ROOT / "src" / "affectscope" / "raters" / "heads"
LICENSE_NOTE = ("Trained on OASIS (Kurdi et al. 2017; open stimulus set) and Emotion6 (Peng et al. 2015; academic "
                "research use only). The heads hold derived parameters, including PCA-projected features of the "
                "training images, not the images or ratings; use them for research.")


def content_keys(norms) -> dict[str, str]:  # noqa: ANN001
    """Item id -> content key of its picture (what the image rater looks up)."""
    from affectscope.stimuli import StimulusSet

    st = StimulusSet.from_list(norms.data["path"].tolist(), ids=norms.item_ids)
    return {s.item_id: s.signature() for s in st}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--cache", default=default_cache())
    args = ap.parse_args()
    sets = load_sets(args.data_root)
    feats = {k: features_for(r, SPEC, VIEW, args.cache, pooling=POOLING) for k, r in sets.items()}
    names = block_names(SPEC, SHIPPED_STAGES)
    # the training pictures by content, so that the image rater recognises them (flags in-sample
    # ratings, or gives their out-of-fold predictions with -p training_items=cv)
    keys = {k: content_keys(r) for k, r in sets.items()}
    both = {f"{k}:{i}": v for k in ("oasis", "emotion6") for i, v in keys[k].items()}
    meta = {"backbone": {"spec": SPEC, "pooling": POOLING}, "view": VIEW, "license": LICENSE_NOTE}

    # basic emotions first: its probabilities are a feature block of the arousal head
    e6, rep_e6 = train_head(feats["emotion6"], sets["emotion6"], taxonomy="emotion6", blocks=names,
                            head_kw={"C": 1.0}, item_keys=keys["emotion6"], meta={**meta, "trained_on": "Emotion6 dev, 1500 images", "taxonomy": "emotion6"})
    e6.save(HEADS / "image_basic_emotions.npz")
    print(rep_e6.summary())
    basic_emotion_head.cache_clear()
    # derived blocks (Emotion6 probabilities, concept norms); Emotion6 pictures get the basic head's out-of-fold probabilities
    feats = {k: with_derived(f, keys[k]) for k, f in feats.items()}
    scale_names = names + list(DERIVED)
    kernel = {"model": RECIPE.model, "n_components": RECIPE.n_components,
              "block_weights": {**shipped_weights(names), **{d: DERIVED_WEIGHT for d in DERIVED}}}

    # valence: OASIS + Emotion6 (better on Emotion6, a little worse on OASIS; bench/image_rater.py section 2),
    # without the derived blocks: in this joint head they moved OASIS valence 0.755 -> 0.749 and Emotion6 0.780 -> 0.782
    norms, f = combine({k: (sets[k], feats[k]) for k in ("oasis", "emotion6")}, ["valence", "arousal"])
    val, rep_val = train_head(f, norms, columns=["valence"], blocks=names, n_boot=1000,
                              head_kw={**kernel, "block_weights": shipped_weights(names)}, item_keys=both,
                              meta={**meta, "trained_on": "OASIS (1-7 -> SAM 1-9) + Emotion6 dev (SAM 1-9), 2400 images"})
    val.save(HEADS / "image_valence_sam9.npz")
    print(rep_val.summary())
    # arousal: OASIS only (Emotion6's 15-rater arousal is barely learnable, CV r ~0.4, and adding it
    # lowers OASIS arousal from 0.77 to 0.70; bench/image_rater.py section 2)
    aro, rep_aro = train_head(feats["oasis"], sets["oasis"], columns=["arousal"], blocks=scale_names, n_boot=1000,
                              head_kw=kernel, item_keys=keys["oasis"],
                              meta={**meta, "trained_on": "OASIS (1-7 -> SAM 1-9), 900 images"})
    aro.save(HEADS / "image_arousal_sam9.npz")
    print(rep_aro.summary())
    (HEADS / "cv_metrics.json").write_text(json.dumps(
        {"image_valence_sam9": val.meta["cv"], "image_arousal_sam9": aro.meta["cv"], "image_basic_emotions": e6.meta["cv"]}, indent=2))
    print(f"heads written to {HEADS}")


if __name__ == "__main__":
    main()
