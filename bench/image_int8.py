"""The image rater's networks in int8 (issue #36 item 2): static quantisation in ONNX Runtime, measured, not shipped unless equal.

Each EfficientNet-Lite of the default rater (with its multi-depth pooling, as exported for the float32
ONNX Runtime path) is quantised statically (QDQ, per-channel int8 weights, uint8 activations),
calibrated on OASIS pictures that are not rated afterwards; then the rater runs with the int8
sessions in place of the float32 ones, on other OASIS pictures. Prints and writes
bench/results/image_int8.json: forward pictures/s per network (float32 vs int8, batch 32) and the
ratings' max and median absolute difference from float32 (the issue's bar: valence/arousal max abs
difference <= 0.02 on the 1-9 scale).

Usage: python bench/image_int8.py [--data-root DIR] [--calibrate 64] [--pictures 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "image_int8.json"


def main() -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from affectscope import _onnx
    from affectscope.backbones import efficientnet_lite as el
    from affectscope.backbones.base import fit_square
    from affectscope.media.image import load_image
    from affectscope.norms._common import data_root as find_data_root
    from affectscope.raters.registry import make_rater
    from affectscope.run.rate import rate
    from affectscope.stimuli import StimulusSet

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--calibrate", type=int, default=64, help="OASIS pictures for calibration (the last ones; not rated)")
    ap.add_argument("--pictures", type=int, default=300, help="OASIS pictures rated (the first ones)")
    args = ap.parse_args()
    root = find_data_root(args.data_root)
    oasis = sorted((root / "oasis" / "images").glob("*.jpg"))
    if len(oasis) < args.calibrate + args.pictures:
        sys.exit(f"need {args.calibrate + args.pictures} OASIS pictures under {root}")
    rated, calib = oasis[: args.pictures], oasis[-args.calibrate:]
    rater = make_rater("image")
    stimuli = StimulusSet.from_list([str(p) for p in rated])
    float32 = rate(stimuli, rater, progress=False).ratings.data
    _, backbone, _ = rater._loaded
    out: dict = {"calibration_pictures": len(calib), "rated_pictures": len(rated), "networks": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _tag, member in backbone.members:
            session = member._session()
            key = next(k for k, v in el._SESSIONS.items() if v is session)
            size = member.input_size
            batches = [np.stack([fit_square(load_image(p, max_side=max(2 * size, 512)), size, "center") for p in calib[i:i + 16]])
                       for i in range(0, len(calib), 16)]

            class Reader(CalibrationDataReader):
                def __init__(self) -> None:
                    self.it = iter(batches)

                def get_next(self) -> dict | None:
                    b = next(self.it, None)
                    return None if b is None else {"x": b}

            src = next(p for p in (Path(el.cache_dir()) / "onnx").glob(f"{member.entry.name}-{member.pooling}-{size}-*.onnx"))
            dst = Path(tmp) / f"{src.stem}-int8.onnx"
            quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            int8 = _onnx.session(str(dst), member.threads)
            x = np.stack([b for batch in batches for b in batch])[:32]
            speeds = {}
            for name, sess in (("float32", session), ("int8", int8)):
                sess.run(None, {"x": x})
                t = time.perf_counter()
                for _ in range(3):
                    sess.run(None, {"x": x})
                speeds[name] = 3 * len(x) / (time.perf_counter() - t)
            el._SESSIONS[key] = int8  # the rater now runs this network in int8
            out["networks"].append({"network": member.entry.name, "float32_per_s": speeds["float32"], "int8_per_s": speeds["int8"],
                                    "speedup": speeds["int8"] / speeds["float32"]})
        quant = rate(stimuli, rater, progress=False).ratings.data
    diffs = {}
    for col in ("valence", "arousal", "joy", "fear", "sadness"):
        if col in float32:
            d = (quant[col] - float32[col]).abs()
            diffs[col] = {"max": float(d.max()), "median": float(d.median()),
                          "r": float(np.corrcoef(quant[col], float32[col])[0, 1])}
    out["ratings_vs_float32"] = diffs
    print(f"{'network':24s} {'float32/s':>10s} {'int8/s':>8s} {'speed-up':>8s}")
    for r in out["networks"]:
        print(f"{r['network']:24s} {r['float32_per_s']:10.1f} {r['int8_per_s']:8.1f} {r['speedup']:8.2f}")
    print(f"\nratings of {len(rated)} OASIS pictures, int8 against float32 (max / median abs difference, r):")
    for col, d in diffs.items():
        print(f"  {col:10s} {d['max']:.3f} / {d['median']:.3f}, r {d['r']:.4f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
