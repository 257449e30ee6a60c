"""Train a compact facial-expression CNN on FER+ vote distributions (needs ../shared/data/ferplus).

Soft labels: each face's target is its 10 annotators' distribution over the 8 emotions (unknown and
not-a-face votes dropped; faces with no emotion vote left out). Long tail: the loss of each face is
re-weighted by the class-balanced weight of its majority class (Cui et al. 2019). Augmentation:
mirror image and small shifts. Model selection on FER+ validation (reported as such: the FER+ test
split is not available here).

``--write-train-keys NPY`` writes the content keys of the FER+ train faces instead of training.

Options: ``--augment affine`` (random rotation +-10 degrees, scale 0.9-1.1, shift +-4 px, mirror)
instead of mirror + shift; ``--erase P`` random erasing (one grey rectangle per face with probability
P); ``--precision bfloat16`` trains under CPU autocast in channels-last layout (about 2.3x faster per
epoch on CPUs with AMX); ``--teacher W.pt --teacher-width 32`` distils a
larger network: the target becomes ``(1 - a) * votes + a * teacher`` (``--teacher-weight a``), the
teacher's probabilities computed once per training face (face and mirror averaged, no augmentation).

Writes the weights of the best validation epoch (float16) and a JSON report. The shipped model's
command is in its model card (``src/affectscope/faces/weights/MODEL_CARD.md``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from affectscope.faces.ferplus_cnn import FERPLUS_LABELS as EMOTIONS
from affectscope.faces.ferplus_cnn import build, load_ferplus_cnn


def load(root: str | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    from affectscope.norms._common import data_root

    z = np.load(data_root(root) / "ferplus" / f"ferplus_{split}.npz", allow_pickle=False)
    cols = [str(c) for c in z["vote_columns"]]
    votes = z["votes"][:, [cols.index(e) for e in EMOTIONS]].astype(np.float32)
    keep = votes.sum(1) > 0
    return z["images"][keep], votes[keep] / votes[keep].sum(1, keepdims=True)


def evaluate(model, x: np.ndarray, p: np.ndarray) -> dict:  # noqa: ANN001
    import torch

    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 512])) for i in range(0, len(x), 512)])
        flip = torch.cat([model(torch.from_numpy(x[i:i + 512].copy()[..., ::-1].copy())) for i in range(0, len(x), 512)])
    q = torch.softmax((logits + flip) / 2, 1).numpy()
    y = p.argmax(1)
    pred = q.argmax(1)
    rec = {EMOTIONS[c]: float((pred[y == c] == c).mean()) for c in range(len(EMOTIONS)) if (y == c).any()}
    return {"accuracy": float((pred == y).mean()), "uar": float(np.mean(list(rec.values()))), "recall": rec}


def one_cycle(params, lr: float, epochs: int, n_train: int, batch: int):  # noqa: ANN001, ANN201
    """AdamW (weight decay 1e-4) under a one-cycle schedule peaking at ``lr``, stepped once per batch."""
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    steps = epochs * int(np.ceil(n_train / batch))
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)


def class_balanced_weights(p: np.ndarray, beta: float = 0.999) -> np.ndarray:
    """Loss weight of each face: the class-balanced weight (Cui et al. 2019) of its majority class in
    the vote distributions ``p`` ``(N, 8)``, scaled so that the weights average 1 over the faces."""
    counts = np.bincount(p.argmax(1), minlength=p.shape[1]).astype(float)
    cw = (1 - beta) / (1 - beta ** np.maximum(counts, 1))
    cw = cw / (cw * counts).sum() * counts.sum()
    return cw[p.argmax(1)].astype(np.float32)


def affine_batch(xb, rng: np.random.Generator, max_deg: float = 10.0, max_shift_px: float = 4.0):  # noqa: ANN001, ANN201
    """Random rotation, scale, shift and mirror of a ``(N, 1, H, W)`` float tensor (border pixels repeated)."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    n, _, h, _ = xb.shape
    ang = np.deg2rad(rng.uniform(-max_deg, max_deg, n))
    scale = rng.uniform(0.9, 1.1, n)
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    shift = rng.uniform(-1, 1, (n, 2)) * max_shift_px / (h / 2)
    theta = np.zeros((n, 2, 3), np.float32)
    theta[:, 0, 0] = np.cos(ang) / scale * flip
    theta[:, 0, 1] = -np.sin(ang) / scale
    theta[:, 1, 0] = np.sin(ang) / scale * flip
    theta[:, 1, 1] = np.cos(ang) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(torch.from_numpy(theta), list(xb.shape), align_corners=False)
    return F.grid_sample(xb, grid, padding_mode="border", align_corners=False)


def erase_batch(xb, rng: np.random.Generator, p: float, area: tuple[float, float] = (0.02, 0.2)):  # noqa: ANN001, ANN201
    """Random erasing (Zhong et al. 2020): with probability ``p`` per face, one rectangle of 2-20 % of
    the face (aspect 0.3-3.3) is set to mid-grey, so that no single region decides the expression."""
    n, _, h, w = xb.shape
    xb = xb.clone()
    for i in np.flatnonzero(rng.random(n) < p):
        a = rng.uniform(*area) * h * w
        ratio = np.exp(rng.uniform(np.log(0.3), np.log(1 / 0.3)))
        eh, ew = min(h, max(1, int(round(np.sqrt(a * ratio))))), min(w, max(1, int(round(np.sqrt(a / ratio)))))
        y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
        xb[i, :, y:y + eh, x:x + ew] = 0.0  # 0 = mid-grey after normalisation to [-1, 1]
    return xb


def main() -> None:
    import torch
    from torch.nn import functional as F  # noqa: N812

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--out", default="ferplus_cnn.pt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--augment", choices=["shift", "affine"], default="shift")
    ap.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--erase", type=float, default=0.0, help="random-erasing probability per face (0 = off)")
    ap.add_argument("--teacher", default=None, help="weights of a larger FER+ CNN to distil")
    ap.add_argument("--teacher-width", type=int, default=32)
    ap.add_argument("--teacher-weight", type=float, default=0.5)
    ap.add_argument("--write-train-keys", metavar="NPY", default=None,
                    help="only write the content keys of all FER+ train faces (what the face rater flags as "
                         "training faces; shipped as faces/weights/training_face_keys.npy) and exit")
    args = ap.parse_args()
    if args.write_train_keys:
        from affectscope.faces.training_faces import face_keys
        from affectscope.norms._common import data_root

        with np.load(data_root(args.data_root) / "ferplus" / "ferplus_train.npz", allow_pickle=False) as z:
            keys = face_keys(z["images"])
        np.save(args.write_train_keys, keys)
        print(f"{len(keys)} training-face keys: {args.write_train_keys}")
        return
    bf16 = args.precision == "bfloat16"
    if bf16:
        from affectscope._cpu import warn_if_slow_bfloat16

        warn_if_slow_bfloat16("train_ferplus.py")
    fmt = torch.channels_last if bf16 else torch.contiguous_format
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    xtr, ptr = load(args.data_root, "train")
    xva, pva = load(args.data_root, "valid")
    norm = lambda x: ((x.astype(np.float32) / 255.0 - 0.5) * 2.0)[:, None]  # noqa: E731
    xtr, xva = norm(xtr), norm(xva)
    sample_w = torch.from_numpy(class_balanced_weights(ptr))
    model = build(args.width).to(memory_format=fmt)
    teacher = None
    if args.teacher:
        teacher = load_ferplus_cnn(args.teacher, width=args.teacher_width)  # eval mode, batch norm fused
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            soft = []
            for i in range(0, len(xtr), 512):
                xb = torch.from_numpy(xtr[i:i + 512]).contiguous(memory_format=fmt)
                both = teacher(torch.cat([xb, torch.flip(xb, dims=[3])])).float()
                soft.append(torch.softmax((both[: len(xb)] + both[len(xb):]) / 2, 1))
        teacher_p = torch.cat(soft).numpy()
        agree = float((teacher_p.argmax(1) == ptr.argmax(1)).mean())
        print(f"teacher {Path(args.teacher).name}: agrees with the train majority on {agree:.3f} of faces", flush=True)
    opt, sched = one_cycle(model.parameters(), args.lr, args.epochs, len(xtr), args.batch)
    history = []
    best = (-1.0, None)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            if args.augment == "affine":
                xb = affine_batch(torch.from_numpy(xtr[idx]), rng)
            else:
                xb = xtr[idx].copy()
                flip = rng.random(len(idx)) < 0.5
                xb[flip] = xb[flip][..., ::-1]
                dy, dx = rng.integers(-3, 4, 2)
                xb = torch.from_numpy(np.roll(xb, (int(dy), int(dx)), axis=(2, 3)))
            if args.erase:
                xb = erase_batch(xb, rng, args.erase)
            xb = xb.contiguous(memory_format=fmt)
            target = torch.from_numpy(ptr[idx])
            if teacher is not None:
                target = (1 - args.teacher_weight) * target + args.teacher_weight * torch.from_numpy(teacher_p[idx])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(xb).float()
            loss = -(target * F.log_softmax(logits, 1)).sum(1)
            loss = (loss * sample_w[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        ev = evaluate(model, xva, pva)
        ev.update(epoch=epoch + 1, seconds=time.perf_counter() - t0, loss=float(loss.detach()))
        history.append(ev)
        print(f"epoch {epoch + 1}: val accuracy {ev['accuracy']:.3f} UAR {ev['uar']:.3f} ({ev['seconds']:.0f} s)", flush=True)
        if ev["accuracy"] > best[0]:
            best = (ev["accuracy"], {k: v.detach().clone().half() for k, v in model.state_dict().items()})
    torch.save(best[1], args.out)
    report = {"emotions": EMOTIONS, "width": args.width, "epochs": args.epochs, "augment": args.augment, "erase": args.erase,
              "seed": args.seed,
              "precision": args.precision, "teacher": args.teacher and Path(args.teacher).name,
              "teacher_weight": args.teacher_weight if args.teacher else None, "lr": args.lr, "history": history,
              "best_val_accuracy": best[0], "n_train": len(xtr), "n_valid": len(xva)}
    Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=2))
    print(f"best validation accuracy {best[0]:.3f}; weights: {args.out}")


if __name__ == "__main__":
    main()
