"""Explanations on real pictures: do the image rater's explanations carry the felt emotion? (issue #7)

Rates the OASIS pictures (needs ../shared/data/oasis) with the default image rater and its
templated explanations, then measures, against the OASIS human valence (converted to SAM 1-9):

  rating            the rater's valence                                          (cross-validated)
  explanation       text-affect valence of the explanation, numbers removed      (cross-validated)
  concept words     text-affect valence of the named ImageNet concepts alone, i.e. what the network
                    saw, put in words, with no word chosen from the rating       (out-of-sample)

plus the ArtEmis-style statistics of :func:`affectscope.explain.evaluate_explanations`: alignment
with the rating, length, distinct-1/2, and the share of grounded explanations.

The shipped heads were trained on OASIS (and Emotion6), so the pictures are rated with
``training_items="cv"``: each gets the prediction of the cross-validation fold that held it out, and
its explanation is written from that prediction. (Before that option existed, this bench reported
in-sample ratings and explanations, an upper bound.) The concept-word valence uses only the ImageNet
classifier, the Warriner word norms and the text-affect model: none of them saw OASIS.

Rating is resumable (store in --store); about 5 min for 900 pictures on 2 cores.
Prints a table, writes bench/results/explanations.json.
Usage: python bench/explanations.py [--data-root DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from affectscope.explain import _strip_numbers, evaluate_explanations
from affectscope.norms import NormsError, load_norms
from affectscope.raters.image import ImageRater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet
from affectscope.text.affect import TextAffect


def concept_words(concepts: str) -> str:
    """'tarantula 0.53; wolf spider 0.20' -> 'tarantula, wolf spider' (ImageNet synonyms: first name)."""
    names = [re.sub(r"\s+\d\.\d+$", "", part.strip()) for part in str(concepts).split(";") if part.strip()]
    return ", ".join(n.split(",")[0] for n in names)


def pearson(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict:
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    r = float(np.corrcoef(a, b)[0, 1])
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(a), len(a))
        boots.append(np.corrcoef(a[i], b[i])[0, 1])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return {"r": r, "ci95": [float(lo), float(hi)], "n": int(len(a))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--limit", type=int, default=None, help="rate only the first N pictures (smoke runs)")
    ap.add_argument("--store", default="bench/results/explanations_cv.store.sqlite")
    ap.add_argument("--out", default="bench/results/explanations.json")
    args = ap.parse_args()
    try:
        norms = load_norms("oasis", args.data_root).convert("valence", "valence:sam9")
    except NormsError as exc:
        print(f"bench needs the OASIS norms and pictures: {exc}", file=sys.stderr)
        return 2
    ids = norms.item_ids[: args.limit] if args.limit else norms.item_ids
    paths = norms.data.loc[ids, "path"].tolist()
    stimuli = StimulusSet.from_list(paths, ids=ids)
    Path(args.store).parent.mkdir(parents=True, exist_ok=True)
    res = rate(stimuli, ImageRater(explain=True, training_items="cv"), store=args.store)
    ok = res.ratings.ok()
    rows = ok.to_frame().to_dict("records")
    human = norms.values("valence").loc[ok.item_ids].to_numpy(float)
    rated = ok.values("valence").to_numpy(float)
    expl = ok.values("explanation").astype(str).tolist()
    ta = TextAffect()
    report = evaluate_explanations(expl, rated.tolist(), human_valence=human.tolist(), rows=rows, text_affect=ta)
    words = [concept_words(c) for c in ok.values("concepts")]
    concept_valence = np.asarray(ta.score(words)["valence"], float)

    expl_valence = np.asarray(ta.score([_strip_numbers(e) for e in expl])["valence"], float)
    table = {
        "rating valence (cross-validated)": pearson(rated, human),
        "explanation text-affect valence (cross-validated)": pearson(expl_valence, human),
        "concept words text-affect valence (out-of-sample)": pearson(concept_valence, human),
    }
    print(f"OASIS, {len(ok)} pictures rated ({res.n_failed} failed); r with human valence (SAM 1-9), 95 % bootstrap CI:")
    for name, v in table.items():
        print(f"  {name:52s} r = {v['r']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]")
    print(report.summary())
    out = {"items": len(ok), "failed": res.n_failed, "vs_human_valence": table, "explanations": report.to_dict(),
           "examples": [{"item_id": i, "human_valence": float(h), "explanation": e}
                        for i, h, e in list(zip(ok.item_ids, human, expl))[:: max(1, len(ok) // 8)]],
           "note": "the heads were trained on OASIS: ratings are their cross-validated (out-of-fold) predictions "
                   "(training_items='cv') and explanations are written from them; concept words are out-of-sample"}
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"results: {Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
