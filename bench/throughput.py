"""Throughput at the networks' limit (issue #36), in one run on one machine.

Prints a table and writes bench/results/throughput.json:

1. the machine's limit: a float32 matrix multiply (2048 x 2048, torch, all threads) in GFLOP/s;
2. each network's forward pass alone at its best batch size (torch and ONNX Runtime for the image
   networks; the FER+ CNN in torch, face and mirror image as the rater runs it, in one pass on all
   threads and as two workers with half the threads each, the faster counting): items/s and
   achieved GFLOP/s (multiply-adds counted on the network's convolutions and linear layers, x2);
3. end to end through ``rate()`` with a run store (decode, resize, forward, heads, checks, commits):
   ``image`` on OASIS pictures with each runtime (torch is the path before #36), ``face`` on 48x48
   FER+ crops (pipelined, as a run goes, and serial; each of ``--repeats`` runs paired with a
   timing of the network alone, the ratio a median of the pairs), ``face`` on full OASIS photos (Haar detection timed alone as well), ``face`` on a
   30 s 640x480 video; items/s and the ratio to the forward pass alone;
4. the image rater's outputs through ONNX Runtime against torch: max abs difference of valence and
   arousal (SAM 1-9) over the same pictures.

Needs ../shared/data (OASIS pictures, FER+ validation faces). Usage:
    python bench/throughput.py [--data-root DIR] [--pictures 300] [--crops 3000] [--photos 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from affectscope.faces import ferplus_cnn
from affectscope.norms._common import data_root as find_data_root
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet

OUT = Path(__file__).resolve().parent / "results" / "throughput.json"


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Median GFLOP/s of an ``n x n`` float32 matrix multiply (2 n^3 flops) in torch."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def count_macs(module, example) -> int:  # noqa: ANN001
    """Multiply-adds of one forward pass of ``module`` on ``example`` (convolutions and linear layers)."""
    import torch

    total = [0]

    def conv(m, _inp, out) -> None:  # noqa: ANN001
        total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, _inp, out) -> None:  # noqa: ANN001
        total[0] += out.numel() * m.in_features

    hooks = [m.register_forward_hook(conv if isinstance(m, torch.nn.Conv2d) else linear)
             for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.inference_mode():
        module(example)
    for h in hooks:
        h.remove()
    return total[0]


def best_rate(run, sizes, items_per_call) -> tuple[float, int]:  # noqa: ANN001
    """(items/s, batch size) of the fastest batch size: median of 3 calls each."""
    best = (0.0, 0)
    for bs in sizes:
        run(bs)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            run(bs)
            times.append(time.perf_counter() - t)
        best = max(best, (items_per_call(bs) / statistics.median(times), bs))
    return best


def image_networks() -> list[dict]:
    """Each EfficientNet-Lite forward alone (pooled blocks, as the rater reads them), torch and ONNX Runtime."""
    import torch

    from affectscope.backbones.efficientnet_lite import EfficientNetLite

    rows = []
    for variant in ("lite0", "lite1", "lite2"):
        for runtime in ("torch", "onnxruntime"):
            bb = EfficientNetLite(variant, pooling="mean+std", runtime=runtime)
            s = bb.input_size
            x = np.random.default_rng(0).integers(0, 255, (64, s, s, 3), dtype=np.uint8)
            macs = count_macs(bb.model, torch.zeros(1, 3, s, s))
            per_s, bs = best_rate(lambda n, bb=bb, x=x: bb.embed_arrays(x[:n]), (8, 16, 32, 64), lambda n: n)
            rows.append({"network": f"{variant} ({s} px)", "runtime": runtime, "batch": bs, "images_per_s": per_s,
                         "gmac_per_image": macs / 1e9, "gflops": 2 * macs * per_s / 1e9})
    return rows


def _split_forward(faces: np.ndarray, model, batch: int, workers: int = 2) -> None:  # noqa: ANN001
    """The FER+ CNN on ``faces`` as the face rater's run does it: ``workers`` threads, each with
    its share of torch's threads, each on its own batches of ``batch`` faces."""
    from affectscope._workers import torch_split

    with torch_split(workers) as w:
        list(w.executor.map(lambda i: ferplus_cnn.predict_proba(faces[i:i + batch], model, batch_size=batch),
                            range(0, len(faces), batch)))


def face_network(faces: np.ndarray) -> dict:
    """The FER+ CNN alone on 48x48 faces, each with its mirror image (as the rater runs it), at its
    best batch size and its best threading: one forward pass on all of torch's threads, or two
    workers with half of them each (as the face rater's run does). The faster one counts."""
    import torch

    model = ferplus_cnn.load_ferplus_cnn()
    macs = 2 * count_macs(model, torch.zeros(1, 1, 48, 48))  # face + mirror image
    one, bs_one = best_rate(lambda n: ferplus_cnn.predict_proba(faces, model, batch_size=n), (16, 32, 64, 128), lambda n: len(faces))
    split, bs_split = best_rate(lambda n: _split_forward(faces, model, n), (16, 32, 64, 128), lambda n: len(faces))
    per_s, bs, how = max((one, bs_one, "one pass, all threads"), (split, bs_split, "two workers, half the threads each"))
    return {"network": "FER+ CNN (48 px, + mirror)", "runtime": "torch", "batch": bs, "images_per_s": per_s,
            "threading": how, "one_pass_per_s": one, "two_workers_per_s": split,
            "gmac_per_image": macs / 1e9, "gflops": 2 * macs * per_s / 1e9}


def end_to_end(stimuli: StimulusSet, rater_name: str, *, serial: bool = False, **params) -> tuple[float, object]:  # noqa: ANN003
    """items/s of ``rate()`` into a fresh store (the rater warmed up on one item first); ``serial``:
    a pipelined rater run without its pipeline (prepare and network stages one after the other)."""
    rater = make_rater(rater_name, **params)
    if serial:
        rater.pipelined = False
    with tempfile.TemporaryDirectory() as tmp:
        rate(StimulusSet(list(stimuli)[:1]), rater, store=Path(tmp) / "warm.sqlite", progress=False)
        t = time.perf_counter()
        res = rate(stimuli, rater, store=Path(tmp) / "run.sqlite", progress=False)
        seconds = time.perf_counter() - t
    return len(stimuli) / seconds, res


def face_crops(crops: StimulusSet, faces: np.ndarray, net: dict, repeats: int) -> list[dict]:
    """The face rater on 48x48 crop files, pipelined and serial, each repeat next to a timing of
    the network alone in its best configuration (``net``), so the ratios compare like with like
    on a machine whose speed drifts; medians over ``repeats``."""
    model = ferplus_cnn.load_ferplus_cnn()
    bs = net["batch"]
    if net["threading"].startswith("two"):
        alone = lambda: _split_forward(faces, model, bs)  # noqa: E731
    else:
        alone = lambda: ferplus_cnn.predict_proba(faces, model, batch_size=bs)  # noqa: E731
    runs: dict[str, list[float]] = {"pipelined": [], "serial": [], "network": []}
    for _ in range(repeats):
        runs["pipelined"].append(end_to_end(crops, "face")[0])
        t = time.perf_counter()
        alone()
        runs["network"].append(len(faces) / (time.perf_counter() - t))
        runs["serial"].append(end_to_end(crops, "face", serial=True)[0])
    fwd = statistics.median(runs["network"])
    rows = []
    for how in ("pipelined", "serial"):
        ratios = [e / n for e, n in zip(runs[how], runs["network"], strict=True)]
        rows.append({"run": f"face, {len(crops)} FER+ 48x48 crops" + (" (serial)" if how == "serial" else ""),
                     "runtime": "torch", "items_per_s": statistics.median(runs[how]), "forward_alone_per_s": fwd,
                     "ratio_to_forward": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)],
                     "repeats": repeats, "all_items_per_s": runs[how], "all_forward_per_s": runs["network"]})
    return rows


def video_30s(path: Path) -> Path:
    """A 30 s 640x480 25 fps clip: a face moving over a grey background, its expression unchanged."""
    from PIL import Image
    from skimage import data

    from affectscope.media.video import write_video

    face = np.asarray(Image.fromarray(data.astronaut()[20:220, 140:340]).resize((160, 160)))
    frames = []
    for i in range(750):
        f = np.full((480, 640, 3), 128, np.uint8)
        x, y = 100 + int(200 * (1 + np.sin(i / 40)) / 2), 120 + int(100 * (1 + np.cos(i / 55)) / 2)
        f[y:y + 160, x:x + 160] = face
        frames.append(f)
    return write_video(path, frames, fps=25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--pictures", type=int, default=300, help="OASIS pictures for the image rater (default 300)")
    ap.add_argument("--crops", type=int, default=3000, help="FER+ validation crops for the face rater (default 3000)")
    ap.add_argument("--photos", type=int, default=200, help="OASIS photos for the face rater on full pictures (default 200)")
    ap.add_argument("--repeats", type=int, default=5, help="face rater on crops: runs, each next to a network-alone timing (default 5)")
    args = ap.parse_args()
    root = find_data_root(args.data_root)
    oasis = sorted((root / "oasis" / "images").glob("*.jpg"))
    if not oasis:
        sys.exit(f"no OASIS pictures under {root / 'oasis' / 'images'}: give --data-root")
    faces = np.load(root / "ferplus" / "ferplus_valid.npz")["images"][: args.crops]
    out: dict = {"machine": {"gemm_gflops": gemm_gflops()}}
    print(f"GEMM 2048x2048 float32 (torch): {out['machine']['gemm_gflops']:.1f} GFLOP/s")

    nets = image_networks() + [face_network(faces)]
    out["forward"] = nets
    print(f"\n{'network':28s} {'runtime':12s} {'batch':>5s} {'items/s':>9s} {'GMAC/item':>9s} {'GFLOP/s':>8s} {'of GEMM':>7s}")
    for r in nets:
        print(f"{r['network']:28s} {r['runtime']:12s} {r['batch']:5d} {r['images_per_s']:9.1f} {r['gmac_per_image']:9.3f} "
              f"{r['gflops']:8.1f} {r['gflops'] / out['machine']['gemm_gflops']:7.2f}")

    e2e = []
    pictures = StimulusSet.from_list([str(p) for p in oasis[: args.pictures]])
    tables = {}
    for runtime in ("torch", "onnxruntime"):
        per_s, res = end_to_end(pictures, "image", runtime=runtime)
        tables[runtime] = res.ratings.data  # type: ignore[attr-defined]
        # seconds of forward passes per picture: each network reads the picture and its mirror image (full+flip)
        fwd = 2 * sum(1 / r["images_per_s"] for r in nets if r["runtime"] == runtime and r["network"].startswith("lite"))
        e2e.append({"run": f"image, {len(pictures)} OASIS pictures", "runtime": runtime, "items_per_s": per_s,
                    "forward_alone_per_s": 1 / fwd, "ratio_to_forward": per_s * fwd})
    diff = {s: float((tables["onnxruntime"][s] - tables["torch"][s]).abs().max()) for s in ("valence", "arousal")}
    out["image_outputs_max_abs_diff"] = diff
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        crop_dir = Path(tmp) / "crops"
        crop_dir.mkdir()
        for i, f in enumerate(faces):
            Image.fromarray(f).save(crop_dir / f"f{i:05d}.png")
        crops = StimulusSet.from_paths([crop_dir])
        e2e += face_crops(crops, faces, nets[-1], args.repeats)
        photos = StimulusSet.from_list([str(p) for p in oasis[: args.photos]])
        per_s, res = end_to_end(photos, "face")
        from affectscope.faces.detect import HaarDetector
        from affectscope.media.image import load_image

        greys = [np.asarray(Image.fromarray(load_image(p, max_side=1280)).convert("L")) for p in oasis[: args.photos]]
        t = time.perf_counter()
        n_found = sum(len(HaarDetector().detect(g)) for g in greys)
        detect_s = (time.perf_counter() - t) / len(greys)
        e2e.append({"run": f"face, {len(photos)} full OASIS photos", "runtime": "torch", "items_per_s": per_s,
                    "haar_seconds_per_photo": detect_s, "faces_found": n_found,
                    "ratio_to_forward": None})
        clip = video_30s(Path(tmp) / "clip.mp4")
        t = time.perf_counter()  # the face network is loaded already (the runs above)
        res = rate(StimulusSet.from_list([str(clip)]), make_rater("face", sampling="fps", fps=4.0), progress=False)
        seconds = time.perf_counter() - t
        row = res.ratings.data.iloc[0]
        e2e.append({"run": "face, 30 s 640x480 video at 4 frames/s", "runtime": "torch", "items_per_s": 1 / seconds,
                    "seconds_per_video_second": seconds / 30, "frames_processed": float(row["n_frames"]),
                    "ratio_to_forward": None})
    out["end_to_end"] = e2e
    print(f"\n{'end to end':44s} {'runtime':12s} {'items/s':>9s} {'fwd alone/s':>11s} {'ratio':>6s}")
    for r in e2e:
        fwd = f"{r['forward_alone_per_s']:11.1f}" if r.get("forward_alone_per_s") else f"{'-':>11s}"
        ratio = f"{r['ratio_to_forward']:6.2f}" if r.get("ratio_to_forward") else f"{'-':>6s}"
        print(f"{r['run']:44s} {r['runtime']:12s} {r['items_per_s']:9.2f} {fwd} {ratio}")
    img = {r["runtime"]: r["items_per_s"] for r in e2e if r["run"].startswith("image")}
    out["image_speedup_onnxruntime_over_torch"] = img["onnxruntime"] / img["torch"]
    photo = next(r for r in e2e if "full OASIS" in r["run"])
    video = next(r for r in e2e if "video" in r["run"])
    print(f"\nimage rater, ONNX Runtime / torch end to end: {out['image_speedup_onnxruntime_over_torch']:.2f}x; "
          f"max abs difference valence {diff['valence']:.2e}, arousal {diff['arousal']:.2e} (SAM 1-9)")
    print(f"face on full photos: Haar detection {photo['haar_seconds_per_photo'] * 1000:.0f} ms per photo "
          f"({photo['faces_found']} faces in {args.photos} photos) of {1000 / photo['items_per_s']:.0f} ms end to end")
    print(f"face on video: {video['frames_processed']:.0f} frames processed, {video['seconds_per_video_second']:.2f} s per second of video")
    face_net = nets[-1]
    crop_rows = [r for r in e2e if "crops" in r["run"]]
    print(f"FER+ CNN alone: {face_net['one_pass_per_s']:.0f} faces/s in one pass on all threads, {face_net['two_workers_per_s']:.0f} "
          f"with two workers (best: {face_net['threading']}, batch {face_net['batch']})")
    for r in crop_rows:
        lo, hi = r["ratio_range"]
        print(f"{r['run']}: {r['items_per_s']:.0f} faces/s, {r['ratio_to_forward']:.3f} of the network alone "
              f"(median of {r['repeats']} paired runs, range {lo:.3f}-{hi:.3f})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
