"""Activations and encoding models at scale (issue #35), in one run on one machine.

Prints a table and writes bench/results/brain.json:

1. activation export (every layer of the default image rater, 47 layers) on OASIS pictures against
   the rater's own throughput through ``rate()`` (same pictures, same run): pictures/s and the ratio;
2. the encoding fit for N items x 20,000 targets x 5 feature spaces (5 layers of those activations,
   targets generated from two of them plus noise): ``fit_encoding`` banded over the 5 spaces, with
   10 outer folds, 20 random band candidates and 1,000 permutations; the same per layer alone;
   against (a) a plain per-target scikit-learn ``RidgeCV`` loop over the 5 spaces side by side (timed
   on 40 targets, scaled to 20,000) and (b) one multi-target ``RidgeCV(alpha_per_target=True)`` per
   fold; and which space the banded model weights most for the targets each space generated.

Needs ../shared/data (OASIS pictures). Usage:
    python bench/brain.py [--data-root DIR] [--pictures 900] [--targets 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from affectscope.brain.encoding import DEFAULT_ALPHAS, fit_encoding
from affectscope.brain.extract import extract_activations
from affectscope.norms._common import data_root as find_data_root
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet

OUT = Path(__file__).resolve().parent / "results" / "brain.json"
SPACES = ("lite0/stage4", "lite0/stage6", "lite0/head", "lite2/head", "head/image_basic_emotions")


def export_vs_rating(stimuli: StimulusSet) -> dict:
    rater = make_rater("image")
    rate(StimulusSet(list(stimuli)[:2]), rater, progress=False)  # networks loaded and exported
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        rate(stimuli, rater, store=Path(tmp) / "run.sqlite", progress=False)
        rate_s = time.perf_counter() - t
        t = time.perf_counter()
        acts = extract_activations(stimuli, rater, cache=Path(tmp) / "acts.sqlite", progress=False)
        export_s = time.perf_counter() - t
    return {"pictures": len(stimuli), "rate_per_s": len(stimuli) / rate_s, "export_per_s": len(stimuli) / export_s,
            "ratio": rate_s / export_s, "layers": len(acts.layers), "units": int(sum(acts.widths.values())), "acts": acts}


def synthetic_brain(spaces: dict[str, np.ndarray], targets: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Targets generated from lite0/stage4 (first half) or lite0/head (second half) with random weights, SNR 1."""
    rng = np.random.default_rng(seed)
    y = np.empty((len(next(iter(spaces.values()))), targets), np.float32)
    source = np.where(np.arange(targets) < targets // 2, 0, 2)  # index into SPACES
    for s in (0, 2):
        x = spaces[SPACES[s]].astype(np.float64)
        z = (x - x.mean(0)) / (x.std(0) + 1e-9)
        cols = np.flatnonzero(source == s)
        sig = z @ rng.standard_normal((z.shape[1], len(cols))) / np.sqrt(z.shape[1])
        y[:, cols] = sig + rng.standard_normal(sig.shape) * sig.std(0)
    return y, source


def sklearn_loop(x: np.ndarray, y: np.ndarray, folds: list[np.ndarray]) -> float:
    """Seconds for the per-target RidgeCV loop (standardised features, the same alphas scaled by the width)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t = time.perf_counter()
    for j in range(y.shape[1]):
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            m = make_pipeline(StandardScaler(), RidgeCV(alphas=np.array(DEFAULT_ALPHAS) * x.shape[1]))
            m.fit(x[train], y[train, j]).predict(x[test])
    return time.perf_counter() - t


def sklearn_multi(x: np.ndarray, y: np.ndarray, folds: list[np.ndarray]) -> tuple[float, np.ndarray]:
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    pred = np.zeros_like(y, dtype=np.float64)
    t = time.perf_counter()
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        sc = StandardScaler().fit(x[train])
        m = RidgeCV(alphas=np.array(DEFAULT_ALPHAS) * x.shape[1], alpha_per_target=True).fit(sc.transform(x[train]), y[train])
        pred[test] = m.predict(sc.transform(x[test]))
    return time.perf_counter() - t, pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--pictures", type=int, default=900)
    ap.add_argument("--targets", type=int, default=20000)
    ap.add_argument("--n-perm", type=int, default=1000)
    args = ap.parse_args()
    root = find_data_root(args.data_root)
    oasis = sorted((root / "oasis" / "images").glob("*.jpg"))[: args.pictures]
    if not oasis:
        sys.exit(f"no OASIS pictures under {root / 'oasis' / 'images'}: give --data-root")
    ex = export_vs_rating(StimulusSet.from_list([str(p) for p in oasis]))
    acts = ex.pop("acts").items()
    out: dict = {"export": ex}
    print(f"{'':44s} {'pictures/s':>10s}")
    print(f"{'image rater, rate() (default runtime)':44s} {ex['rate_per_s']:10.2f}")
    print(f"{'activations, all ' + str(ex['layers']) + ' layers (' + format(ex['units'], ',') + ' units)':44s} "
          f"{ex['export_per_s']:10.2f}   ratio {ex['ratio']:.3f}")

    spaces = {k: acts.layer(k) for k in SPACES}
    y, source = synthetic_brain(spaces, args.targets)
    n, t_count = y.shape
    t = time.perf_counter()
    banded = fit_encoding(spaces, y, cv=10, n_iter=20, n_perm=args.n_perm)
    banded_s = time.perf_counter() - t
    t = time.perf_counter()
    fit_encoding(spaces, y, cv=10, n_iter=20, n_perm=0)
    banded_noperm_s = time.perf_counter() - t
    t = time.perf_counter()
    per_layer = {k: fit_encoding({k: v}, y, cv=10, n_perm=0) for k, v in spaces.items()}
    per_layer_s = time.perf_counter() - t
    x_all = np.hstack([spaces[k] for k in SPACES]).astype(np.float64)
    sample = np.linspace(0, t_count - 1, 40).astype(int)
    loop_s = sklearn_loop(x_all, y[:, sample].astype(np.float64), banded.folds) * t_count / len(sample)
    multi_s, multi_pred = sklearn_multi(x_all, y.astype(np.float64), banded.folds)
    multi_r = np.array([np.corrcoef(multi_pred[:, j], y[:, j])[0, 1] for j in range(t_count)])
    w = banded.weights.mean(axis=0)
    recovered = {SPACES[s]: float(np.mean(np.argmax(w[source == s], axis=1) == s)) for s in (0, 2)}
    enc = {"items": n, "targets": t_count, "spaces": list(SPACES), "widths": {k: int(v.shape[1]) for k, v in spaces.items()},
           "banded_seconds_with_perms": banded_s, "banded_seconds": banded_noperm_s, "n_perm": args.n_perm,
           "per_layer_seconds_all_5": per_layer_s, "sklearn_loop_seconds_extrapolated": loop_s,
           "sklearn_multitarget_seconds": multi_s, "speedup_vs_loop": loop_s / banded_noperm_s,
           "banded_median_r": float(np.median(banded.r)), "sklearn_multitarget_median_r": float(np.nanmedian(multi_r)),
           "per_layer_median_r": {k: float(np.median(v.r)) for k, v in per_layer.items()},
           "share_weighting_the_generating_space_most": recovered, "alpha_at_edge": banded.settings["alpha_at_edge"]}
    out["encoding"] = enc
    print(f"\nencoding, {n} items x {t_count:,} targets x {len(SPACES)} spaces ({sum(enc['widths'].values()):,} features), 10 folds")
    print(f"{'':58s} {'seconds':>9s} {'median r':>9s}")
    print(f"{'banded ridge, 20 candidates, + ' + str(args.n_perm) + ' permutations':58s} {banded_s:9.1f} {enc['banded_median_r']:9.3f}")
    print(f"{'banded ridge, no permutations':58s} {banded_noperm_s:9.1f}")
    print(f"{'one ridge per layer (5 fits)':58s} {per_layer_s:9.1f}")
    print(f"{'scikit-learn RidgeCV per target, all features (scaled from 40)':58s} {loop_s:9.1f}")
    print(f"{'scikit-learn RidgeCV(alpha_per_target=True), all features':58s} {multi_s:9.1f} {enc['sklearn_multitarget_median_r']:9.3f}")
    for k, v in enc["per_layer_median_r"].items():
        print(f"  {k:24s} alone: median r {v:.3f}")
    print("  banded model weights the generating space most for: "
          + ", ".join(f"{k} {v:.0%} of its targets" for k, v in recovered.items()))
    print(f"speed-up of the banded fit over the per-target loop: {enc['speedup_vs_loop']:.0f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
