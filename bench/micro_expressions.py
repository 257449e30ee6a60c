"""Micro-expression bursts: do frame-sampling strategies see a 0.25-0.5 s expression?

Synthetic clips from real FER+ validation faces (needs ../shared/data/ferplus): a neutral face
(FER+ majority neutral, >= 70 % of votes) held for the whole clip, with a burst of a non-neutral
face (majority non-neutral, >= 60 % of votes) lasting 0.25-0.5 s at a random time; 25 or 30 fps,
--seconds long (3 s default; 10 s is a typical VLM clip), 96x96 frames (upscaled 48x48 faces, rated as whole faces), per-frame sensor noise (sigma 3)
and +-1 px jitter so that change detection has to beat noise. Encoded to H.264 and decoded with
PyAV like any clip.

Per strategy it measures:
  seen      a processed frame falls inside the burst
  detected  a processed frame inside the burst is classified non-neutral by the FER+ CNN
            (bounded by the model's accuracy; `dense` is that ceiling)
  false     processed frames outside the burst classified non-neutral (per clip)
  frames    frames processed per clip (all strategies decode every frame)
Also: faces/s of the expression model in batches, and the real-time factor of a 640x480 30 fps
clip sampled at 4 fps with Haar face detection.

Prints a table, writes bench/results/micro_expressions_<seconds>s.json.
Usage: python bench/micro_expressions.py [--clips 100] [--seconds 3] [--seed 0] [--data-root DIR]
                                         [--model ferplus|ferplus_large] [--prior-correction TAU]
                                         [--runtime torch|onnxruntime] [--precision float32|bfloat16|int8] [--no-mirror]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from affectscope.faces.video import SamplingSpec, frame_series
from affectscope.media.video import write_video
from affectscope.raters.face import FaceRater

from _clips import burst_faces, load_valid_faces, write_burst_clip  # noqa: E402 - bench helpers beside this script

STRATEGIES = {
    "uniform-16 (VLM)": SamplingSpec("uniform", k=16),
    "uniform-8": SamplingSpec("uniform", k=8),
    "fps-2": SamplingSpec("fps", fps=2),
    "fps-4": SamplingSpec("fps", fps=4),
    "change-aware (1 fps base)": SamplingSpec("change", base_fps=1.0),
    "dense (every frame)": SamplingSpec("fps", fps=1000),
}
LABELS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def realtime_factor(rater: FaceRater, face: np.ndarray, tmp: Path, rng: np.random.Generator) -> dict:
    """10 s of 640x480 at 30 fps with a face, sampled at 4 fps with Haar detection."""
    bg = rng.integers(60, 200, (480, 640, 3)).astype(np.uint8)
    big = np.asarray(Image.fromarray(face).resize((180, 180), Image.Resampling.BICUBIC))
    frames = []
    for i in range(300):
        f = bg.copy()
        x = 200 + int(40 * np.sin(i / 20))
        f[120:300, x:x + 180] = big[:, :, None]
        frames.append(f)
    path = tmp / "rt.mp4"
    write_video(path, frames, fps=30, crf=16)
    t0 = time.perf_counter()
    series, n_dec = frame_series(path, rater, SamplingSpec("fps", fps=4))
    secs = time.perf_counter() - t0
    return {"clip_s": 10.0, "wall_s": secs, "realtime_factor": 10.0 / secs, "frames_decoded": n_dec,
            "frames_processed": len(series), "frames_with_a_face": int((series["n_faces"] > 0).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--model", default="ferplus", help="the face rater's FER+ CNN (ferplus or ferplus_large)")
    ap.add_argument("--prior-correction", type=float, default=0.0, help="the face rater's prior_correction")
    ap.add_argument("--runtime", default="torch", help="the face rater's runtime")
    ap.add_argument("--precision", default="float32", help="the face rater's precision")
    ap.add_argument("--no-mirror", action="store_true", help="the face rater's mirror=False")
    args = ap.parse_args()
    engine = {"runtime": args.runtime, "precision": args.precision, "mirror": not args.no_mirror}
    tag = "" if (args.model, args.prior_correction) == ("ferplus", 0.0) else f"_{args.model}_tau{args.prior_correction:g}"
    if engine != {"runtime": "torch", "precision": "float32", "mirror": True}:
        tag += f"_{args.runtime}_{args.precision}" + ("_no_mirror" if args.no_mirror else "")
    args.out = args.out or str(Path(__file__).parent / "results" / f"micro_expressions_{args.seconds:g}s{tag}.json")
    names, images, norms = load_valid_faces(args.data_root)
    neutral, expressive = burst_faces(names, norms, LABELS)
    rng = np.random.default_rng(args.seed)
    rater = FaceRater(model=args.model, prior_correction=args.prior_correction, **engine)
    rater.outputs()

    # expression model throughput (batched, 2 cores)
    from affectscope.faces.ferplus_cnn import predict_proba

    batch = images[:2048]
    from affectscope.faces.ferplus_cnn import load_ferplus_cnn

    network = load_ferplus_cnn(variant=args.model)
    predict_proba(batch[:64], network, **engine)
    t0 = time.perf_counter()
    predict_proba(batch, network, **engine)
    faces_per_s = len(batch) / (time.perf_counter() - t0)

    stats = {k: {"seen": 0, "detected": 0, "false": 0, "frames": 0, "seconds": 0.0} for k in STRATEGIES}
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        clips = []
        for c in range(args.clips):
            clips.append(write_burst_clip(tmp / f"clip{c:03d}.mp4", images, neutral, expressive, rng, seconds=args.seconds))
        print(f"{len(clips)} clips written; rating ...", flush=True)
        for name, spec in STRATEGIES.items():
            for path, start, length, label, n in clips:
                t0 = time.perf_counter()
                series, _ = frame_series(path, rater, spec, n_frames=n)
                stats[name]["seconds"] += time.perf_counter() - t0
                inside = series["frame"].between(start, start + length - 1)
                top = series[LABELS].to_numpy(float).argmax(axis=1)
                stats[name]["seen"] += int(inside.any())
                stats[name]["detected"] += int((inside.to_numpy() & (top > 0)).any())
                stats[name]["false"] += int((~inside.to_numpy() & (top > 0)).sum())
                stats[name]["frames"] += len(series)
        rt = realtime_factor(rater, images[neutral[0]], tmp, rng)

    n = len(clips)
    rows = []
    print(f"\nMicro-expression bursts (0.25-0.5 s) in {n} synthetic {args.seconds:g} s clips of FER+ validation faces (seed {args.seed}; "
          f"model {args.model}, prior_correction {args.prior_correction:g}, {engine})")
    print(f"{'strategy':28s} {'seen':>6s} {'detected':>9s} {'frames/clip':>12s} {'false/clip':>11s} {'ms/clip':>8s}")
    for name, s in stats.items():
        row = {"strategy": name, "seen_rate": s["seen"] / n, "detected_rate": s["detected"] / n, "miss_rate_seen": 1 - s["seen"] / n,
               "frames_per_clip": s["frames"] / n, "false_per_clip": s["false"] / n, "ms_per_clip": 1000 * s["seconds"] / n}
        rows.append(row)
        print(f"{name:28s} {row['seen_rate']:6.3f} {row['detected_rate']:9.3f} {row['frames_per_clip']:12.1f} "
              f"{row['false_per_clip']:11.2f} {row['ms_per_clip']:8.1f}")
    dense = rows[-1]["frames_per_clip"]
    ch = next(r for r in rows if r["strategy"].startswith("change"))
    print(f"\nchange-aware processes {ch['frames_per_clip']:.1f} of {dense:.1f} frames per clip ({dense / ch['frames_per_clip']:.1f}x fewer than dense)")
    print(f"expression model: {faces_per_s:.0f} faces/s (batches of 2048 48x48 faces, this CPU)")
    print(f"640x480 30 fps, 4 fps sampling with Haar detection: {rt['realtime_factor']:.2f}x real time "
          f"({rt['wall_s']:.2f} s for a 10 s clip; faces found in {rt['frames_with_a_face']}/{rt['frames_processed']} processed frames)")
    out = {"clips": n, "seconds": args.seconds, "seed": args.seed, "model": args.model, "prior_correction": args.prior_correction, **engine, "strategies": rows, "faces_per_s": faces_per_s, "realtime": rt,
           "note": "detected is bounded by the FER+ CNN's accuracy on the burst face; dense is the ceiling"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
