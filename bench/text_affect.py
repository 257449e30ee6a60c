"""Language bench: text-affect on Warriner and "how much of the felt emotion is in the words".

1. Warriner et al. (2013): the shipped model's held-out test r (from its affect_meta.json, written
   by scripts/train_text_affect.py) and, with --baseline, frozen MiniLM + ridge in 10-fold CV.
2. Cowen & Keltner (2017), 2185 videos: each video's valence and arousal (1-9, human means)
   predicted zero-shot from the free-response terms people used for it — the share-weighted
   text-affect of the 600 terms (norms where a term is a normed lemma, the model otherwise),
   no fitting to the video ratings. Pearson r with a seeded bootstrap 95 % CI.

Needs ../shared/data/cowen_keltner_2017 and the Warriner norms in the cache (`affectscope text
fetch-norms`). Prints a table, writes bench/results/text_affect.json.
--llm adds the opt-in Gemma 3 270M head (TextAffect(llm=True), extra text-llm; ~2 min more).
--mpnet adds the opt-in all-mpnet-base-v2 head (TextAffect(mpnet=True); `affectscope text fetch-mpnet`
once), and with --llm as well, both heads together.
Usage: python bench/text_affect.py [--baseline] [--llm] [--mpnet] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from affectscope.norms import NormsError, load_cowen_keltner
from affectscope.norms.cowen_keltner import TERM_PREFIX
from affectscope.text.affect import TextAffect, default_weights
from affectscope.text.stack import load_stack, stack_file


def boot_r(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    r = float(np.corrcoef(a, b)[0, 1])
    idx = rng.integers(0, len(a), size=(n, len(a)))
    rs = [np.corrcoef(a[i], b[i])[0, 1] for i in idx]
    lo, hi = np.percentile(rs, [2.5, 97.5])
    return r, float(lo), float(hi)


def fmt_r(test_r: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in test_r.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", action="store_true", help="also 10-fold CV of frozen MiniLM + ridge on Warriner (~2 min)")
    ap.add_argument("--llm", action="store_true", help="also the opt-in Gemma head (TextAffect(llm=True))")
    ap.add_argument("--mpnet", action="store_true", help="also the opt-in MPNet head (TextAffect(mpnet=True))")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_affect.json"))
    args = ap.parse_args()
    out: dict = {}
    meta = json.loads((default_weights() / "affect_meta.json").read_text())
    out["warriner_shipped_test_r"] = meta["test_r"]
    print("Warriner (2013), shipped MiniLM+LoRA model, held-out test r (n=%d): %s" % (
        meta["n_test"], fmt_r(meta["test_r"])))
    stack = load_stack(default_weights())
    if stack is not None:
        out["warriner_stacked_test_r"] = stack["test_r"]
        out["warriner_stack_gain_ci95"] = stack.get("gain_r_ci95")
        print("Warriner (2013), the model stacked with the NRC lexicon (fitted on validation), same test words: %s" % (
            fmt_r(stack["test_r"])))
    if args.baseline:
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import KFold

        from affectscope.text.encoder import MiniLMEncoder
        from affectscope.text.norms import load_warriner

        w = load_warriner()
        t0 = time.perf_counter()
        x = MiniLMEncoder().encode(w["word"].astype(str).tolist())
        y = w[["valence", "arousal", "dominance"]].to_numpy(float)
        pred = np.zeros_like(y)
        for tr, te in KFold(10, shuffle=True, random_state=0).split(x):
            pred[te] = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x[tr], y[tr]).predict(x[te])
        rs = {k: float(np.corrcoef(pred[:, j], y[:, j])[0, 1]) for j, k in enumerate(["valence", "arousal", "dominance"])}
        out["warriner_frozen_ridge_cv_r"] = rs
        print(f"Warriner, frozen MiniLM + ridge, 10-fold CV r: {rs} ({time.perf_counter() - t0:.0f} s)")
    try:
        ck = load_cowen_keltner(args.data_root).data
    except NormsError as exc:
        sys.exit(f"the free-response part needs ../shared/data/cowen_keltner_2017: {exc}")
    term_cols = [c for c in ck.columns if c.startswith(TERM_PREFIX)]
    terms = [c[len(TERM_PREFIX):] for c in term_cols]
    variants = {"stacked": TextAffect().score(terms)}
    if stack is not None:
        variants["model only"] = TextAffect(stack=False, nrc=False).score(terms)
    options = [kw for kw in ({"mpnet": True}, {"llm": True}, {"mpnet": True, "llm": True})
               if all(getattr(args, k) for k in kw)]
    for kw in options:
        label = " ".join(f"{k}=True" for k in kw)
        extra_stack = load_stack(default_weights(), stack_file(list(kw)))
        out[f"warriner_{'_'.join(kw)}_stacked_test_r"] = extra_stack["test_r"] if extra_stack else None
        if extra_stack:
            model = "LoRA-MPNet" if "mpnet" in kw else "MiniLM"
            print(f"Warriner (2013), {label} ({model} + NRC + {' + '.join(kw)} head, fitted on validation), same test "
                  f"words: {fmt_r(extra_stack['test_r'])}")
        t0 = time.perf_counter()
        variants[label] = TextAffect(**kw).score(terms)
        print(f"{label} scored {len(terms)} terms in {time.perf_counter() - t0:.0f} s")
    scores = variants["stacked"]
    shares = ck[term_cols].to_numpy(float)
    ok = shares.sum(axis=1) > 0
    n_model = int((scores["source"] != "norm").sum())
    print(f"\nCowen & Keltner (2017): {ok.sum()} videos, {len(terms)} free-response terms "
          f"({(scores['source'] == 'norm').sum()} normed lemmas, {n_model} by the model)")
    print(f"{'predicted from the terms':28s} {'r':>6s} {'95% CI':>16s}")
    for name, table in variants.items():
        rows = {}
        for dim in ("valence", "arousal"):
            pred = shares[ok] @ table[dim].to_numpy() / shares[ok].sum(axis=1)
            r, lo, hi = boot_r(pred, ck[dim].to_numpy(float)[ok])
            rows[dim] = {"r": r, "ci95": [lo, hi], "n": int(ok.sum())}
            print(f"{dim + ' (' + name + ')':28s} {r:6.3f}   [{lo:.3f}, {hi:.3f}]")
        key = {"stacked": "ck_free_response", "model only": "ck_free_response_model_only", "llm=True": "ck_free_response_llm"}
        out[key.get(name, "ck_free_response_" + name.replace("=True", "").replace(" ", "_"))] = rows
    out["n_terms"] = {"normed": int((scores["source"] == "norm").sum()), "model": n_model}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
