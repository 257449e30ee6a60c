"""Context enrichment for the LLM rater: do 0.2-0.5 s expressions between keyframes reach the text?

Synthetic clips from real FER+ validation faces (needs ../shared/data/ferplus; the clips of
``micro_expressions.py``): a neutral face held for --seconds, with a burst of an expressive face
lasting 0.2-0.5 s at a random time. Each clip goes through the LLM rater's video encoding
(``affectscope.llm.media.video_content``: --keyframes evenly spaced keyframes as images, a sentence
per gap from the frames the context sampler analyses) with

  change   the face rater's change-aware sampler (the default), and
  grid-4   the earlier fixed grid: one frame every 0.25 s.

Per sampler:
  seen           a frame inside the burst was analysed (the sampler's part; the rest is the
                 FER+ network's: a seen burst face it calls neutral is not named)
  reached        a gap sentence names a non-neutral expression during the burst (its time span
                 overlaps the burst) -- the event reaches the text the model reads
  right label    ... and names the burst's own FER+ majority label
  false          expressions named outside the burst, per clip
  on keyframe    a keyframe (sent as an image) falls inside the burst
  analysed       frames analysed per clip, and their share of all frames
  tokens         per clip: the text (characters / 4) plus the keyframes as images, against every
                 frame sent as an image, at 256 tokens per image (Gemma 3) and 85 (GPT-4o low detail)

Prints a table, writes bench/results/context_enrichment_<seconds>s.json.
Usage: python bench/context_enrichment.py [--clips 100] [--seconds 10] [--keyframes 4] [--seed 0] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from affectscope.faces.video import SamplingSpec
from affectscope.llm.media import CONTEXT_FACE_PARAMS, context_series, face_model, video_content

from _clips import burst_faces, load_valid_faces, write_burst_clip  # noqa: E402 - bench helpers beside this script

LABELS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
SAMPLERS = {"change": None, "grid-4": SamplingSpec("fps", fps=4)}
IMAGE_TOKENS = {"gemma3": 256, "gpt4o_low": 85}
RUN = re.compile(r"(neutral|happiness|surprise|sadness|anger|disgust|fear|contempt) at (\d+\.\d+)(?:-(\d+\.\d+))? s")


def score(parts: list[dict], start_s: float, end_s: float, label: str, tol: float = 0.006) -> dict[str, float]:
    """The burst [start_s, end_s] against the text; times in the text are rounded to 0.01 s (``tol``)."""
    texts = [p["text"] for p in parts if p["type"] == "text"]
    gaps = [t for t in texts if t.startswith("Between")]
    hits = []
    false = 0
    for g in gaps:
        for lab, t0, t1 in RUN.findall(g):
            a, b = float(t0), float(t1 or t0)
            if lab != "neutral" and a <= end_s + tol and b >= start_s - tol:
                hits.append(lab)
            elif lab != "neutral":
                false += 1
    keys = [float(t.split("at ")[1].split(" s")[0]) for t in texts if t.startswith("Keyframe at")]
    analysed = sum(int(g.split("not shown, ")[1].split(" analysed")[0]) for g in gaps)
    return {"reached": float(bool(hits)), "right_label": float(label in hits), "false": float(false),
            "on_keyframe": float(any(start_s - tol <= k <= end_s + tol for k in keys)),
            "analysed": float(analysed), "text_chars": float(sum(len(t) for t in texts)), "keyframes": float(len(keys))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--keyframes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.out = args.out or str(Path(__file__).parent / "results" / f"context_enrichment_{args.seconds:g}s.json")
    names, images, norms = load_valid_faces(args.data_root)
    face, _, why = face_model()
    if face is None:
        sys.exit(f"this benchmark needs the face model: {why}")
    neutral, expressive = burst_faces(names, norms, LABELS)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in SAMPLERS}
    frames_total = 0
    secs = {k: 0.0 for k in SAMPLERS}
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        clips = [write_burst_clip(tmp / f"clip{c:03d}.mp4", images, neutral, expressive, rng, seconds=args.seconds, min_s=0.2, max_s=0.5)
                 for c in range(args.clips)]
        print(f"{len(clips)} clips written; encoding ...", flush=True)
        for path, start, length, label, n in clips:
            fps = n / args.seconds
            frames_total += n
            for name, sampling in SAMPLERS.items():
                t0 = time.perf_counter()  # the encoding alone is timed
                parts = video_content(path, keyframes=args.keyframes, max_side=512, context=True, sampling=sampling)
                secs[name] += time.perf_counter() - t0
                r = score(parts, start / fps, (start + length - 1) / fps, label)
                r["frames"] = float(n)
                series, _, _ = context_series(path, sampling)
                r["seen"] = float(series["frame"].between(start, start + length - 1).any())
                rows[name].append(r)
    n_clips = len(clips)
    table = []
    print(f"\nBursts of 0.2-0.5 s in {n_clips} synthetic {args.seconds:g} s clips of FER+ validation faces (seed {args.seed}); "
          f"{args.keyframes} keyframes; face model {CONTEXT_FACE_PARAMS}")
    print(f"{'sampler':8s} {'seen':>6s} {'reached':>8s} {'right label':>12s} {'false/clip':>11s} {'on keyframe':>12s} "
          f"{'analysed/clip':>14s} {'share':>7s} {'tokens (gemma3)':>16s} {'all frames':>11s} {'ms/clip':>8s}")
    for name, rs in rows.items():
        mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        tokens = {m: mean["text_chars"] / 4 + mean["keyframes"] * t for m, t in IMAGE_TOKENS.items()}
        every = {m: mean["frames"] * t for m, t in IMAGE_TOKENS.items()}
        row = {"sampler": name, "seen": mean["seen"], "reached": mean["reached"], "right_label": mean["right_label"],
               "false_per_clip": mean["false"], "on_keyframe": mean["on_keyframe"],
               "analysed_per_clip": mean["analysed"], "analysed_share": mean["analysed"] / mean["frames"],
               "tokens_per_clip": tokens, "tokens_every_frame": every, "ms_per_clip": 1000 * secs[name] / n_clips}
        table.append(row)
        print(f"{name:8s} {row['seen']:6.3f} {row['reached']:8.3f} {row['right_label']:12.3f} {row['false_per_clip']:11.2f} "
              f"{row['on_keyframe']:12.3f} {row['analysed_per_clip']:14.1f} "
              f"{row['analysed_share']:7.3f} {tokens['gemma3']:16.0f} {every['gemma3']:11.0f} {row['ms_per_clip']:8.0f}")
    ch = table[0]
    print(f"\nchange: {ch['reached']:.3f} of bursts reach the text (target >= 0.95) analysing {ch['analysed_share']:.3f} of the frames "
          f"(target <= 0.10); tokens per clip {ch['tokens_per_clip']['gemma3']:.0f} / {ch['tokens_per_clip']['gpt4o_low']:.0f} "
          f"against {ch['tokens_every_frame']['gemma3']:.0f} / {ch['tokens_every_frame']['gpt4o_low']:.0f} for every frame as an image "
          "(Gemma 3 / GPT-4o low detail)")
    out = {"clips": n_clips, "seconds": args.seconds, "keyframes": args.keyframes, "seed": args.seed, "face_model": CONTEXT_FACE_PARAMS,
           "frames_per_clip": frames_total / n_clips, "samplers": table, "image_tokens": IMAGE_TOKENS}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
