"""Experiment for issue #4: fine-tune ImageNet EfficientNet-Lite0 on FER+ vote distributions.

The shipped FER+ networks are trained from scratch (``scripts/train_ferplus.py``). This asks whether
ImageNet pretraining helps: the packaged Lite0 weights, the 48x48 grey faces upsampled to
``--size`` pixels and repeated over 3 channels ((x - 127) / 128, the TF release's preprocessing),
a new 8-way linear head, every weight trained. Same targets, loss (soft votes, class-balanced
weights), affine augmentation and validation scoring (face + mirror image) as the shipped recipe.

Needs ../shared/data/ferplus. Writes ``bench/results/finetune_ferplus_lite0.json`` after every epoch.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _train_ferplus():
    spec = importlib.util.spec_from_file_location("train_ferplus", HERE.parent / "scripts" / "train_ferplus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    import copy

    import torch
    from torch.nn import functional as F

    from affectscope.backbones.efficientnet_lite import EfficientNetLite

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N shuffled faces only (0 = all)")
    ap.add_argument("--out", default=str(HERE / "results" / "finetune_ferplus_lite0.json"))
    args = ap.parse_args()
    tf = _train_ferplus()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    xtr, ptr = tf.load(args.data_root, "train")
    xva, pva = tf.load(args.data_root, "valid")
    norm = lambda x: ((x.astype(np.float32) - 127.0) / 128.0)[:, None]
    xtr, xva = norm(xtr), norm(xva)
    if args.limit:
        keep = rng.permutation(len(xtr))[: args.limit]
        xtr, ptr = xtr[keep], ptr[keep]
    sample_w = torch.from_numpy(tf.class_balanced_weights(ptr))

    net = copy.deepcopy(EfficientNetLite("lite0").model)
    net._fc = torch.nn.Linear(net._fc.in_features, ptr.shape[1])

    class Upsampled(torch.nn.Module):
        """The grey 48x48 face upsampled to ``--size`` and repeated to 3 channels, then Lite0."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, xb):  # noqa: ANN001, ANN202
            xb = F.interpolate(xb, size=(args.size, args.size), mode="bilinear", align_corners=False)
            return self.net(xb.expand(-1, 3, -1, -1))

    forward = Upsampled()

    opt, sched = tf.one_cycle(net.parameters(), args.lr, args.epochs, len(xtr), args.batch)
    report = {"args": vars(args), "n_train": len(xtr), "n_valid": len(xva), "history": []}
    for epoch in range(args.epochs):
        net.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            xb = tf.affine_batch(torch.from_numpy(xtr[idx]), rng)
            loss = -(torch.from_numpy(ptr[idx]) * F.log_softmax(forward(xb), 1)).sum(1)
            loss = (loss * sample_w[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        ev = tf.evaluate(forward, xva, pva)  # the training script's scoring: mirror-averaged, accuracy, UAR
        ev.update(epoch=epoch + 1, seconds=time.perf_counter() - t0)
        report["history"].append(ev)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"epoch {epoch + 1}: val accuracy {ev['accuracy']:.3f} UAR {ev['uar']:.3f} ({ev['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
