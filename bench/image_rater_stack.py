"""Cheap extra channels for the default image rater, alone and stacked (issue #3; needs ../shared/data).

Every row adds blocks to the shipped features (EfficientNet-Lite0/1/2 stages 5-7 + head + logits,
whole picture + mirror) and scores OASIS valence/arousal by 10-fold CV with the shipped kernel head:

- ``e6``: the shipped Emotion6 basic-emotion head's 7 probabilities (``derived/emotion6``). That head
  never saw OASIS, so the block is not a leak on OASIS.
- ``cn`` (concept norms, ``derived/concept_norms``): each network's softmax(logits / 4) times the
  valence/arousal/dominance of every ImageNet class's first lemma (``backbones/imagenet_class_norms.tsv``).
- ``faces``: the face channel (``make_backbone("faces")``; needs the ``faces`` extra).
- ``names``: each network's softmax(logits) times MiniLM embeddings of the class names.

Every extra block has weight 0.5, fixed before scoring. Stacks are scored on four fold splits
(seeds 0-3). A last part adds all Emotion6 dev pictures to every OASIS training fold for valence,
with and without a block that says which set a picture is from.

Prints a table and writes bench/results/image_rater_stack.json.

Usage: python bench/image_rater_stack.py [--data-root DIR] [--cache FILE] [--seeds 0 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _image_data import SHIPPED_STAGES, block_names, default_cache, features_for, load_sets, shipped_weights  # noqa: E402
from image_rater import KERNEL  # noqa: E402

from affectscope.training.derived import CONCEPT_NORMS, DERIVED, EMOTION6, add_derived  # noqa: E402
from affectscope.training.features import Features  # noqa: E402
from affectscope.training.heads import fit_scale_head  # noqa: E402
from affectscope.training.train import _splits, train_head  # noqa: E402

SPEC, VIEW = "lite0+lite1+lite2", "full+flip"
NETS = ("lite0", "lite1", "lite2")
WEIGHT = 0.5
STACKS = (("e6", "cn"), ("e6", "faces"), ("e6", "cn", "faces"))


def name_embeddings(blocks: dict[str, np.ndarray]) -> np.ndarray:
    from scipy.special import softmax

    from affectscope.raters.image import imagenet_labels
    from affectscope.text.encoder import MiniLMEncoder

    emb = MiniLMEncoder().encode([f"a photo of {name.replace('_', ' ')}" for name in imagenet_labels()])
    return np.hstack([softmax(blocks[f"{n}/logits"], axis=1) @ emb for n in NETS])


def score(feats: Features, oasis, names: list[str], extra: tuple[str, ...], seed: int) -> dict:
    weights = {**shipped_weights(names), **{e: WEIGHT for e in extra}}
    _, rep = train_head(feats, oasis, columns=["valence", "arousal"], blocks=names + list(extra),
                        head_kw={**KERNEL, "block_weights": weights}, n_boot=1000, seed=seed)
    s = rep.metrics["scales"]
    return {c: {k: s[c][k] for k in ("pearson", "pearson_lo", "pearson_hi")} for c in ("valence", "arousal")}


def with_emotion6(fo: Features, yo: np.ndarray, fe: Features | None, ye: np.ndarray | None, names: list[str],
                  indicator: float | None = None) -> float:
    """OASIS valence r, 10-fold CV (seed 0) of a valence-only head, with all Emotion6 pictures in
    every training fold (``fe``, ``ye``; None: OASIS alone)."""
    oof = np.zeros(len(yo))
    extra = [] if indicator is None else ["set"]
    weights = {**shipped_weights(names), **({"set": indicator} if indicator is not None else {})}
    for tr, te in _splits(len(yo), 10, None, 0):
        test = {n: fo.blocks[n][te] for n in names}
        if fe is None or ye is None:
            train, y = {n: fo.blocks[n][tr] for n in names}, yo[tr]
        else:
            train = {n: np.concatenate([fo.blocks[n][tr], fe.blocks[n]]) for n in names}
            y = np.concatenate([yo[tr], ye])
        if indicator is not None:
            train["set"] = np.concatenate([np.zeros((len(tr), 1)), np.ones((len(train[names[0]]) - len(tr), 1))])
            test["set"] = np.zeros((len(te), 1))
        head = fit_scale_head(train, names + extra, y[:, None], ["valence"],
                              model="kernel", n_components=KERNEL["n_components"], block_weights=weights)
        oof[te] = head.predict(test)[:, 0]
    return float(np.corrcoef(oof, yo)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--cache", default=default_cache())
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--part", default="all", choices=["all", "stacks", "emotion6"],
                    help="run only the channel stacks or only the Emotion6-as-training-data part (default: all)")
    ap.add_argument("--out", default=None, help="default: bench/results/image_rater_stack.json ([_PART].json with --part)")
    args = ap.parse_args()
    tag = "" if args.part == "all" else f"_{args.part}"
    args.out = args.out or str(Path(__file__).parent / "results" / f"image_rater_stack{tag}.json")
    sets = load_sets(args.data_root)
    oasis = sets["oasis"]
    names = block_names(SPEC, SHIPPED_STAGES)
    f = features_for(oasis, SPEC, VIEW, args.cache)
    faces = features_for(oasis, "faces", VIEW, args.cache)
    if faces.item_ids != f.item_ids:
        failed = {**f.errors, **faces.errors}
        sys.exit(f"{len(failed)} pictures failed in feature extraction (run again to retry them): {list(failed.items())[:5]}")
    t0 = time.perf_counter()
    derived = add_derived(f.blocks, DERIVED)  # no OASIS picture is a training picture of the basic-emotion head
    extra = {"e6": derived[EMOTION6], "cn": derived[CONCEPT_NORMS], "faces": faces.blocks["expressions"],
             "names": name_embeddings(f.blocks)}
    print(f"channels built in {time.perf_counter() - t0:.0f} s; faces found in {int((extra['faces'][:, 1] > 0).sum())} of {len(f.item_ids)} pictures")
    feats = Features(f.item_ids, {**f.blocks, **extra})
    result: dict = {"weight": WEIGHT, "rows": []}

    def row(label: str, blocks: tuple[str, ...], seed: int) -> None:
        s = score(feats, oasis, names, blocks, seed)
        result["rows"].append({"configuration": label, "blocks": list(blocks), "seed": seed, **s})
        print(f"   seed {seed}  {label:28s} valence r {s['valence']['pearson']:.4f} [{s['valence']['pearson_lo']:.3f}, "
              f"{s['valence']['pearson_hi']:.3f}]  arousal r {s['arousal']['pearson']:.4f}", flush=True)

    if args.part in ("all", "stacks"):
        print(f"OASIS 10-fold CV, shipped kernel head, each extra block at weight {WEIGHT}")
        for blocks in ((), ("e6",), ("cn",), ("faces",), ("names",)):
            row("shipped" if not blocks else "+ " + blocks[0], blocks, args.seeds[0])
        for seed in args.seeds:
            if seed != args.seeds[0]:
                row("shipped", (), seed)
            for blocks in STACKS:
                row("+ " + " + ".join(blocks), blocks, seed)
    if args.part == "stacks":
        return _write(result, args.out)

    print("OASIS valence, valence-only head, 10-fold CV (seed 0): OASIS alone, then with all 1500 Emotion6 dev pictures "
          "added to every training fold")
    fe = features_for(sets["emotion6"], SPEC, VIEW, args.cache)
    yo = oasis.data.loc[f.item_ids, "valence"].to_numpy(float)
    ye = sets["emotion6"].data.loc[fe.item_ids, "valence"].to_numpy(float)
    result["with_emotion6"] = []
    for label, fe_, ye_, ind in (("OASIS alone", None, None, None), ("+ Emotion6, no set indicator", fe, ye, None),
                                 ("+ Emotion6, set indicator 0.5", fe, ye, 0.5), ("+ Emotion6, set indicator 1", fe, ye, 1.0)):
        r = with_emotion6(f, yo, fe_, ye_, names, ind)
        result["with_emotion6"].append({"configuration": label, "valence": r})
        print(f"   {label:30s} valence r {r:.4f}", flush=True)
    _write(result, args.out)


def _write(result: dict, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
