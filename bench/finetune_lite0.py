"""Does fine-tuning the top of EfficientNet-Lite0 on OASIS pay over a ridge head on frozen features?

An experiment for the image rater (not a shipped path): the first ``--cut`` blocks stay frozen and
their output is cached for four views per picture (whole, mirror, a random 70-95 % crop, its mirror);
the remaining blocks, the 1280-d head convolution and a linear valence/arousal head (started from the
ridge solution) are trained with MSE on standardised ratings, BatchNorm statistics frozen. Both rows
use the same K folds; test predictions average the whole picture and its mirror. Prints per-fold and
pooled out-of-fold Pearson r and writes JSON.

    python bench/finetune_lite0.py --cut 13 --epochs 3 --lr 3e-5     # about 15 minutes on 2 cores

Float32 throughout: on CPUs without AMX or AVX512-BF16, bfloat16 autocast is ~10x slower.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--cut", type=int, default=13, help="first trainable block of Lite0's 16 (default: 13)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-5, help="learning rate of the network blocks (head: 1e-3)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cache", default=None, help="cache of the frozen blocks' outputs (.npy; default: none)")
    ap.add_argument("--out", default="bench/results/finetune_lite0.json")
    args = ap.parse_args()

    import torch
    from scipy.stats import pearsonr
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    from affectscope.backbones.base import fit_square
    from affectscope.backbones.efficientnet_lite import EfficientNetLite
    from affectscope.media.image import load_image
    from affectscope.norms import NormsError
    from affectscope.norms.oasis import load_oasis

    try:
        norms = load_oasis(args.data_root)
    except NormsError as exc:
        print(f"bench needs OASIS: {exc}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    paths = list(norms.data["path"])
    y = norms.data[["valence", "arousal"]].to_numpy(float)
    backbone = EfficientNetLite("lite0")
    net = backbone.model
    mean = torch.tensor(backbone.entry.mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.entry.std).view(1, 3, 1, 1)
    rng = np.random.default_rng(0)
    size = backbone.input_size

    def views(path: str) -> list[np.ndarray]:
        im = load_image(path, max_side=512)
        full = fit_square(im, size, "full")
        h, w = im.shape[:2]
        s = rng.uniform(0.7, 0.95)
        ch, cw = int(h * s), int(w * s)
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = fit_square(im[y0:y0 + ch, x0:x0 + cw], size, "full")
        return [full, full[:, ::-1], crop, crop[:, ::-1]]

    cached = Path(args.cache) if args.cache else None
    if cached is not None and cached.exists():
        x_all = np.load(cached)
    else:
        t, parts = time.perf_counter(), []
        for i in range(0, len(paths), 16):
            batch = np.stack([v for p in paths[i:i + 16] for v in views(p)])
            x = (torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() - mean) / std
            with torch.inference_mode():
                x = net._swish(net._bn0(net._conv_stem(x)))
                for block in net._blocks[:args.cut]:
                    x = block(x)
            parts.append(x.numpy().astype(np.float16))
        x_all = np.concatenate(parts).reshape(len(paths), 4, *parts[0].shape[1:])
        if cached is not None:
            np.save(cached, x_all)
        print(f"frozen blocks' outputs {x_all.shape} in {time.perf_counter() - t:.0f} s", flush=True)

    def top(model: object) -> list:
        return [torch.nn.ModuleList(model._blocks[args.cut:]), model._conv_head, model._bn1]

    def forward(parts: list, x: torch.Tensor) -> torch.Tensor:
        blocks, conv, bn = parts
        for block in blocks:
            x = block(x)
        return net._swish(bn(conv(x))).mean(dim=(2, 3))

    with torch.inference_mode():
        pooled = np.stack([forward(top(net), torch.from_numpy(x_all[:, v].astype(np.float32))).numpy() for v in range(2)], axis=1).mean(1)
    oof = {"frozen_ridge": np.zeros_like(y), "fine_tuned": np.zeros_like(y)}
    folds = []
    for k, (tr, te) in enumerate(KFold(args.folds, shuffle=True, random_state=0).split(y)):
        t0 = time.perf_counter()
        mu, sd = y[tr].mean(0), y[tr].std(0)
        ridge = RidgeCV(alphas=np.logspace(-2, 4, 25)).fit(pooled[tr], (y[tr] - mu) / sd)
        oof["frozen_ridge"][te] = ridge.predict(pooled[te]) * sd + mu
        parts = [copy.deepcopy(p) for p in top(net)]
        for part in parts:
            part.eval()  # BatchNorm statistics stay frozen: a few hundred pictures cannot re-estimate them
        head = torch.nn.Linear(pooled.shape[1], 2)
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(ridge.coef_).float())
            head.bias.copy_(torch.from_numpy(np.atleast_1d(ridge.intercept_)).float())
        params = [p for part in parts for p in part.parameters()]
        opt = torch.optim.AdamW([{"params": params, "lr": args.lr}, {"params": head.parameters(), "lr": 1e-3}], weight_decay=1e-2)
        xs = torch.from_numpy(x_all[tr].reshape(-1, *x_all.shape[2:]))
        ys = torch.from_numpy(np.repeat((y[tr] - mu) / sd, 4, axis=0)).float()
        steps = args.epochs * ((len(xs) + 31) // 32)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, [args.lr, 1e-3], total_steps=steps)
        gen = torch.Generator().manual_seed(k)
        for _ in range(args.epochs):
            order = torch.randperm(len(xs), generator=gen)
            for i in range(0, len(xs), 32):
                idx = order[i:i + 32]
                pred = head(torch.nn.functional.dropout(forward(parts, xs[idx].float()), 0.2, training=True))
                loss = torch.nn.functional.mse_loss(pred, ys[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        with torch.inference_mode():
            xt = torch.from_numpy(x_all[te][:, :2].reshape(-1, *x_all.shape[2:]).astype(np.float32))
            oof["fine_tuned"][te] = head(forward(parts, xt)).numpy().reshape(len(te), 2, 2).mean(1) * sd + mu
        row = {name: [float(pearsonr(oof[name][te][:, j], y[te][:, j])[0]) for j in range(2)] for name in oof}
        folds.append(row)
        print(f"fold {k}: " + "  ".join(f"{n} {v[0]:.3f} / {v[1]:.3f}" for n, v in row.items())
              + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    pooled_r = {name: [float(pearsonr(oof[name][:, j], y[:, j])[0]) for j in range(2)] for name in oof}
    print(f"\n{'Lite0, pooled out-of-fold r':34s} {'valence':>8s} {'arousal':>8s}")
    for name, (rv, ra) in pooled_r.items():
        print(f"{name:34s} {rv:8.3f} {ra:8.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "folds": folds, "pooled": pooled_r}, indent=2))
    print(f"results: {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
