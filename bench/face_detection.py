"""Face detection recall and speed on faces whose position is known (issue #4).

Ground truth one can verify: real FER+ validation faces (48x48, needs ../shared/data/ferplus),
upscaled to a side of 40-200 px and pasted at random places into 640x480 scenes cut from
scikit-image's bundled photos that show no person (coffee, rocket, Hubble deep field, grass, gravel,
brick, horse, retina, IHC). Each scene gets 0-3 non-overlapping faces; the pasted square is the true
box. Per Haar cascade that ships in opencv-python-headless:

  recall       true faces matched by a detection with IoU >= 0.5 (one detection per face), by size
  recall@0.3   the same with IoU >= 0.3 (Haar boxes sit a little inside the tight FER+ crop)
  FP/image     detections matching no true face, per scene (face-free scenes included)
  ms/image     median detection time of one 640x480 scene, 1 thread

Caveats, also in the JSON: FER+ faces are frontal, centred, tight crops, pasted with hard edges
into scenes they do not belong to; recall on them is an upper bound for frontal faces of that size,
not a measure on faces in the wild (profiles, occlusion, poor light).

Prints a table, writes bench/results/face_detection.json.
Usage: python bench/face_detection.py [--scenes 300] [--seed 0] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from affectscope.faces.detect import CASCADES, HaarDetector
from affectscope.norms import NormsError
from affectscope.norms.ferplus import load_ferplus_faces
from affectscope.samples import sample_paths

#: scikit-image sample photos without people (coins show heads, camera and astronaut people, chelsea a cat)
BACKGROUNDS = ("coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "grass.png", "gravel.png", "brick.png",
               "horse.png", "retina.jpg", "ihc.png")
SIZE_BINS = ((40, 64), (64, 96), (96, 140), (140, 201))
W, H = 640, 480


def backgrounds() -> list[np.ndarray]:
    out = []
    for p in sample_paths():
        if p.name in BACKGROUNDS:
            img = Image.open(p).convert("L")
            scale = max(W / img.width, H / img.height)
            img = img.resize((max(W, round(img.width * scale)), max(H, round(img.height * scale))), Image.Resampling.BILINEAR)
            out.append(np.asarray(img))
    return out


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def make_scene(bgs: list[np.ndarray], faces: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple]]:
    bg = bgs[int(rng.integers(len(bgs)))]
    y0, x0 = int(rng.integers(0, bg.shape[0] - H + 1)), int(rng.integers(0, bg.shape[1] - W + 1))
    scene = bg[y0:y0 + H, x0:x0 + W].copy()
    boxes: list[tuple] = []
    for _ in range(int(rng.integers(0, 4))):
        side = int(np.exp(rng.uniform(np.log(40), np.log(200))))
        for _try in range(20):
            x, y = int(rng.integers(0, W - side)), int(rng.integers(0, H - side))
            if all(iou((x, y, side, side), b) == 0 for b in boxes):
                face = faces[int(rng.integers(len(faces)))]
                scene[y:y + side, x:x + side] = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC))
                boxes.append((x, y, side, side))
                break
    return scene, boxes


def evaluate(det: HaarDetector, scenes: list[tuple[np.ndarray, list[tuple]]]) -> dict:
    matched = {0.5: [], 0.3: []}
    sizes, fps, times = [], 0, []
    for scene, truth in scenes:
        t = time.perf_counter()
        found = [(b.x, b.y, b.w, b.h) for b in det.detect(scene)]
        times.append(time.perf_counter() - t)
        used: set[int] = set()
        for box in truth:
            sizes.append(box[2])
            scores = [(iou(box, f), j) for j, f in enumerate(found) if j not in used]
            best, j = max(scores, default=(0.0, -1))
            for thr in matched:
                matched[thr].append(best >= thr)
            if best >= 0.3:
                used.add(j)
        fps += sum(1 for j, f in enumerate(found) if j not in used and max((iou(f, b) for b in truth), default=0) < 0.3)
    hit, sizes_a = np.array(matched[0.5]), np.array(sizes)
    by_size = {f"{lo}-{hi - 1}px": float(hit[(sizes_a >= lo) & (sizes_a < hi)].mean()) for lo, hi in SIZE_BINS
               if ((sizes_a >= lo) & (sizes_a < hi)).any()}
    return {"faces": len(hit), "recall": float(hit.mean()), "recall_iou03": float(np.mean(matched[0.3])),
            "recall_by_size": by_size, "false_positives_per_image": fps / len(scenes),
            "ms_per_image_median": 1000 * float(np.median(times))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="bench/results/face_detection.json")
    args = ap.parse_args()
    try:
        _, faces = load_ferplus_faces(args.data_root, "valid")
    except NormsError as exc:
        print(f"bench needs the FER+ validation faces: {exc}", file=sys.stderr)
        return 2
    import cv2

    cv2.setNumThreads(1)
    rng = np.random.default_rng(args.seed)
    bgs = backgrounds()
    scenes = [make_scene(bgs, faces, rng) for _ in range(args.scenes)]
    rows = {}
    print(f"{args.scenes} scenes of {W}x{H}, {sum(len(b) for _, b in scenes)} pasted FER+ faces, "
          f"{sum(not b for _, b in scenes)} scenes without a face")
    print(f"{'cascade':22s} {'recall':>7s} {'@0.3':>6s} " + " ".join(f"{lo}-{hi - 1}px".rjust(9) for lo, hi in SIZE_BINS)
          + f" {'FP/img':>7s} {'ms/img':>7s}")
    for name in CASCADES:
        r = evaluate(HaarDetector(cascade=name, min_size=40 / H), scenes)
        rows[name] = r
        print(f"{name:22s} {r['recall']:7.3f} {r['recall_iou03']:6.3f} "
              + " ".join(f"{r['recall_by_size'].get(f'{lo}-{hi - 1}px', float('nan')):9.3f}" for lo, hi in SIZE_BINS)
              + f" {r['false_positives_per_image']:7.3f} {r['ms_per_image_median']:7.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "what": "Haar cascades (opencv-python-headless) on real FER+ validation faces pasted into person-free scikit-image scenes",
        "scenes": args.scenes, "size": [W, H], "seed": args.seed, "backgrounds": list(BACKGROUNDS), "cascades": rows,
        "caveat": "frontal, centred, tight FER+ crops with hard edges: an upper bound for frontal faces of these sizes, not faces in the wild",
        "threads": 1,
    }, indent=2))
    print(f"results: {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
