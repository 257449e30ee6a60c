"""Benchmark of the default image rater on real human norms (needs ../shared/data).

Prints a table and writes bench/results/image_rater.json:
1. OASIS 10-fold CV r for valence/arousal (SAM 1-9), as an ablation from the plain anchor
   (EfficientNet-Lite0 pooled head + ridge) to the shipped configuration (the last row adds the
   derived blocks of affectscope.training.derived; ``--quick``: that row alone);
2. cross-dataset: train on OASIS, test on Emotion6 dev, and the reverse (sections 2-7 use the
   shipped network features without the derived blocks);
3. basic emotions on Emotion6 dev (10-fold CV): top-1 vs the dominant human emotion, UAR,
   KL/JS to the human distribution, per-emotion r;
4. throughput: images/s end to end (decode, resize, forward, heads) vs the backbone forward alone.

5. (--channels, alone) extra channels fused with the shipped features: colour statistics and the
   face channel; and input size (Lite0 at 224 vs 288 px).
6. (--video, alone) the rater on videos: slideshow clips of OASIS pictures (H.264, 25 fps) rated
   as videos (8 uniform frames) against the mean rating of the same frames rated as PNG pictures,
   and seconds of processing per second of video; writes bench/results/image_rater_video.json.
7. (--multiscale, alone) the three networks also read at ~1.3x their native input size: scale-averaged
   features and native + large blocks side by side, OASIS 10-fold CV; writes
   bench/results/image_rater_multiscale.json.

Usage: python bench/image_rater.py [--data-root DIR] [--cache FILE] [--quick] [--no-bfloat16] [--channels | --video | --multiscale]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _image_data import SHIPPED_STAGES, block_names, combine, default_cache, features_for, load_sets, shipped_weights, with_derived  # noqa: E402

from affectscope.training.derived import DERIVED, DERIVED_WEIGHT  # noqa: E402
from affectscope.training.heads import fit_scale_head  # noqa: E402
from affectscope.training.train import train_head  # noqa: E402

ABLATION = [  # (label, backbone spec, view, stages, model)
    ("anchor: lite0 head, centre crop, ridge", "lite0", "center", ("head",), "linear"),
    ("+ stages 5-7 (multi-depth)", "lite0", "center", ("stage5", "stage6", "stage7", "head"), "linear"),
    ("+ whole picture + mirror (full+flip)", "lite0", "full+flip", ("stage5", "stage6", "stage7", "head"), "linear"),
    ("+ lite1 + lite2 ensemble", "lite0+lite1+lite2", "full+flip", ("stage5", "stage6", "stage7", "head"), "linear"),
    ("+ RBF kernel ridge on PCA-128", "lite0+lite1+lite2", "full+flip", ("stage5", "stage6", "stage7", "head"), "kernel"),
    ("+ ImageNet logits (concepts)", "lite0+lite1+lite2", "full+flip", SHIPPED_STAGES, "kernel"),
    ("+ stages weighted 0.6", "lite0+lite1+lite2", "full+flip", SHIPPED_STAGES, "kernel-weighted"),
    ("+ Emotion6 probabilities, concept norms (shipped)", "lite0+lite1+lite2", "full+flip", SHIPPED_STAGES, "kernel-derived"),
]
#: The networks' features of the shipped heads; sections 2-7 build on them (without the derived blocks).
SHIPPED = ABLATION[-2]
KERNEL = {"model": "kernel", "n_components": 128}


def _kw(model: str, names: list[str] | None = None) -> dict:
    if model == "kernel-derived":
        return {**KERNEL, "block_weights": {**shipped_weights(names or []), **{d: DERIVED_WEIGHT for d in DERIVED}}}
    if model == "kernel-weighted":
        return {**KERNEL, "block_weights": shipped_weights(names or [])}
    return dict(KERNEL) if model == "kernel" else {"model": "linear"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--cache", default=default_cache())
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "image_rater.json"))
    ap.add_argument("--quick", action="store_true", help="only the shipped configuration")
    ap.add_argument("--no-bfloat16", action="store_true",
                    help="section 4: time float32 only (bfloat16 takes over 20 min on CPUs without AMX or AVX512-BF16)")
    ap.add_argument("--channels", action="store_true",
                    help="only section 5: extra channels (colour statistics, the face channel) and input size; "
                         "writes bench/results/image_rater_channels.json")
    ap.add_argument("--video", action="store_true",
                    help="only section 6: OASIS slideshow clips rated as videos vs their pictures; writes bench/results/image_rater_video.json")
    ap.add_argument("--multiscale", action="store_true",
                    help="only section 7: the networks at ~1.3x input size too; writes bench/results/image_rater_multiscale.json")
    args = ap.parse_args()
    sets = load_sets(args.data_root)
    if args.multiscale:
        return multiscale(sets["oasis"], args.cache, Path(args.out).with_name("image_rater_multiscale.json"))
    if args.video:
        return video(sets["oasis"], Path(args.out).with_name("image_rater_video.json"))
    if args.channels:
        return channels(sets["oasis"], args.cache, Path(args.out).with_name("image_rater_channels.json"))
    result: dict = {"oasis_cv": [], "cross_dataset": {}, "emotion6_basic": {}, "throughput": {}}

    print("1. OASIS 10-fold CV (valence/arousal converted to SAM 1-9)")
    print(f"   {'configuration':46s} {'valence r [95% CI]':>24s} {'arousal r [95% CI]':>24s}")
    for label, spec, view, stages, model in (ABLATION[-1:] if args.quick else ABLATION):
        f = features_for(sets["oasis"], spec, view, args.cache)
        names = block_names(spec, stages)
        if model == "kernel-derived":  # no OASIS picture is a training picture of the basic-emotion head
            f = with_derived(f, {})
        _, rep = train_head(f, sets["oasis"], columns=["valence", "arousal"], blocks=names + (list(DERIVED) if model == "kernel-derived" else []),
                            head_kw=_kw(model, names), n_boot=1000)
        s = rep.metrics["scales"]
        cell = {c: f"{s[c]['pearson']:.3f} [{s[c]['pearson_lo']:.3f}, {s[c]['pearson_hi']:.3f}]" for c in ("valence", "arousal")}
        print(f"   {label:46s} {cell['valence']:>24s} {cell['arousal']:>24s}", flush=True)
        result["oasis_cv"].append({"configuration": label, "backbone": spec, "view": view, "blocks": list(stages), "model": model,
                                   **{c: {k: s[c][k] for k in ("pearson", "pearson_lo", "pearson_hi", "mae", "ceiling")}
                                      for c in ("valence", "arousal")}})

    _, spec, view, stages, model = SHIPPED
    names = block_names(spec, stages)
    feats = {k: features_for(r, spec, view, args.cache) for k, r in sets.items()}
    print("\n2. Cross-dataset (shipped configuration; r on the test set)")
    for a, b in (("oasis", "emotion6"), ("emotion6", "oasis")):
        fa, fb = feats[a], feats[b]
        ya = sets[a].data.loc[fa.item_ids, ["valence", "arousal"]].to_numpy(float)
        yb = sets[b].data.loc[fb.item_ids, ["valence", "arousal"]].to_numpy(float)
        head = fit_scale_head(fa.blocks, names, ya, ["valence", "arousal"], **_kw(model, names))
        pred = head.predict(fb.blocks)
        rs = {c: float(np.corrcoef(pred[:, j], yb[:, j])[0, 1]) for j, c in enumerate(("valence", "arousal"))}
        result["cross_dataset"][f"{a}->{b}"] = rs
        print(f"   train {a:8s} -> test {b:8s}  valence r {rs['valence']:.3f}  arousal r {rs['arousal']:.3f}")
    _, rep6 = train_head(feats["emotion6"], sets["emotion6"], columns=["valence", "arousal"], blocks=names, head_kw=_kw(model, names), n_boot=200)
    in6 = {c: rep6.metrics["scales"][c]["pearson"] for c in ("valence", "arousal")}
    result["emotion6_in_domain_cv"] = in6
    print(f"   (in-domain Emotion6 10-fold CV: valence r {in6['valence']:.3f}  arousal r {in6['arousal']:.3f})")

    norms, fc = combine({k: (sets[k], feats[k]) for k in ("oasis", "emotion6")}, ["valence", "arousal"])
    _, repc = train_head(fc, norms, columns=["valence", "arousal"], blocks=names, head_kw=_kw(model, names), n_boot=10)
    oof = repc.oof.data
    result["combined_training"] = {}
    for ds in ("oasis", "emotion6"):
        idx = [i for i in oof.index if i.startswith(ds + ":")]
        rs = {c: float(np.corrcoef(oof.loc[idx, c], norms.data.loc[idx, c])[0, 1]) for c in ("valence", "arousal")}
        result["combined_training"][ds] = rs
        print(f"   trained on OASIS+Emotion6 (10-fold CV), scored on {ds:8s}  valence r {rs['valence']:.3f}  arousal r {rs['arousal']:.3f}")

    print("\n3. Basic emotions on Emotion6 dev (10-fold CV, soft-label logistic head)")
    for label, kw in (("plain, C=0.1", {"C": 0.1}), ("plain, C=1 (shipped)", {"C": 1.0}),
                      ("class-balanced weights, C=1", {"C": 1.0, "balance": "class-balanced"}),
                      ("logit adjustment tau=1, C=1", {"C": 1.0, "tau": 1.0})):
        _, rep = train_head(feats["emotion6"], sets["emotion6"], taxonomy="emotion6", blocks=names, head_kw=kw)
        m = rep.metrics["metrics"]
        oof = rep.oof.data[[c for c in rep.oof.columns_of("category")]]
        human = sets["emotion6"].data.loc[oof.index]
        per = {c: float(np.corrcoef(oof[c], human[c])[0, 1]) for c in oof.columns if c in human.columns}
        result["emotion6_basic"][label] = {"metrics": {k: m[k] for k in ("accuracy", "uar", "macro_f1", "kl", "js", "head_collapse") if k in m},
                                           "per_emotion_r": per}
        print(f"   {label:36s} top-1 {m['accuracy']:.3f}  UAR {m['uar']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
              f"KL {m.get('kl', float('nan')):.3f}  JS {m.get('js', float('nan')):.3f}  collapse {m.get('head_collapse', float('nan')):.3f}")
        print("      per-emotion r: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))

    print("\n4. Throughput (2-core CPU; shipped rater)")
    result["throughput"] = throughput(sets["oasis"])
    if not args.no_bfloat16:
        result["throughput_bfloat16"] = throughput(sets["oasis"], precision="bfloat16")
    for label, key in (("float32", "throughput"), ("bfloat16", "throughput_bfloat16")):
        if key not in result:
            continue
        t = result[key]
        print(f"   {label:8s}  backbone forward only {t['backbone_img_s']:.2f} img/s; end to end {t['end_to_end_img_s']:.2f} img/s; "
              f"ratio {t['ratio']:.2f} (median of {t['repeats']} runs over {t['n_images']} images)")
    if not args.no_bfloat16:
        agree = result["throughput_bfloat16"]["vs_float32"] = precision_agreement(sets["oasis"])
        print("   bfloat16 vs float32 ratings of the same pictures: "
              + ", ".join(f"{k} r {v['r']:.4f} (max |diff| {v['max_abs_diff']:.3f})" for k, v in agree.items()))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {out}")


def colour_block(norms, ids: list[str]) -> np.ndarray:
    """20 colour features per picture: brightness, saturation, colourfulness, contrast, dark and
    bright pixel shares, SD of value and saturation, and a 12-bin saturation-weighted hue histogram."""
    from affectscope.media.image import load_image
    from affectscope.raters.color import colour_statistics

    rows = []
    for path in norms.data.loc[ids, "path"]:
        rgb = load_image(path, max_side=256)
        s = colour_statistics(rgb)
        x = rgb.reshape(-1, 3).astype(float) / 255
        mx, mn = x.max(1), x.min(1)
        sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0)
        r, g, b = x.T
        hue = np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)
        hist = np.histogram(hue, bins=12, range=(-np.pi, np.pi), weights=sat)[0] / len(hue)
        rows.append([s["brightness"], s["saturation"], s["colourfulness"] / 100, s["contrast"], (mx < 0.2).mean(),
                     (mx > 0.8).mean(), mx.std(), sat.std(), *hist])
    return np.asarray(rows)


def channels(oasis, cache: str, out: Path) -> None:
    """Section 5: does adding colour statistics or the face channel to the shipped features help,
    and does a larger input help (Lite0 alone, 224 vs 288 px)? OASIS 10-fold CV, kernel head."""
    from affectscope.training.features import Features

    _, spec, view, stages, model = SHIPPED
    names = block_names(spec, stages)
    f = features_for(oasis, spec, view, cache)
    t0 = time.perf_counter()
    faces = features_for(oasis, "faces", view, cache)
    t_faces = time.perf_counter() - t0
    if faces.item_ids != f.item_ids:
        failed = {**f.errors, **faces.errors}
        sys.exit(f"{len(failed)} pictures failed in feature extraction (run again to retry them): {list(failed.items())[:5]}")
    blocks = {**f.blocks, "colour": colour_block(oasis, f.item_ids), "faces": faces.blocks["expressions"]}
    feats = Features(f.item_ids, blocks)
    n_faces = int((blocks["faces"][:, 1] > 0).sum())
    print(f"5. Extra channels (OASIS 10-fold CV, shipped kernel head); face channel found faces in {n_faces} of "
          f"{len(f.item_ids)} pictures " + (f"({t_faces:.0f} s, {len(f.item_ids) / t_faces:.1f} pictures/s incl. decoding)"
                                             if t_faces > 5 else "(from the feature cache)"))
    rows = [("shipped", names, {})]
    rows += [(f"+ colour statistics (weight {w})", names + ["colour"], {"colour": w}) for w in (0.5, 1.0)]
    rows += [(f"+ face channel (weight {w})", names + ["faces"], {"faces": w}) for w in (0.35, 0.5, 1.0)]
    result: dict = {"n_pictures_with_faces": n_faces, "rows": []}
    for label, bl, extra in rows:
        kw = {**KERNEL, "block_weights": {**shipped_weights(names), **extra}}
        _, rep = train_head(feats, oasis, columns=["valence", "arousal"], blocks=bl, head_kw=kw, n_boot=1000)
        s = rep.metrics["scales"]
        print(f"   {label:40s} valence r {s['valence']['pearson']:.4f} [{s['valence']['pearson_lo']:.3f}, {s['valence']['pearson_hi']:.3f}]"
              f"  arousal r {s['arousal']['pearson']:.4f}", flush=True)
        result["rows"].append({"configuration": label, **{c: {k: s[c][k] for k in ("pearson", "pearson_lo", "pearson_hi")}
                                                          for c in ("valence", "arousal")}})
    print("   input size, Lite0 alone (full+flip, stages 5-7 + head + logits, kernel head):")
    result["input_size"] = []
    for size in (224, 288):
        sp = "lite0" if size == 224 else f"lite0@{size}"
        t0 = time.perf_counter()
        fl = features_for(oasis, sp, view, cache, pooling="mean")
        secs = time.perf_counter() - t0
        st = list(SHIPPED_STAGES)
        _, rep = train_head(fl, oasis, columns=["valence", "arousal"], blocks=st, head_kw={**KERNEL, "block_weights": shipped_weights(st)}, n_boot=1000)
        s = rep.metrics["scales"]
        print(f"   {sp:12s} valence r {s['valence']['pearson']:.4f}  arousal r {s['arousal']['pearson']:.4f}  "
              f"(features {secs:.0f} s, 0 if cached)", flush=True)
        result["input_size"].append({"spec": sp, "valence": s["valence"]["pearson"], "arousal": s["arousal"]["pearson"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {out}")


#: ~1.3x each network's native input (224, 240, 260), rounded to a multiple of 16.
LARGE_SPEC = "lite0@288+lite1@304+lite2@336"


def multiscale(oasis, cache: str, out: Path) -> None:
    """Section 7: the shipped features plus the same three networks read at ~1.3x their input size
    (the networks are fully convolutional), as scale-averaged blocks or as extra blocks beside the
    native ones. OASIS 10-fold CV, the shipped kernel head."""
    from affectscope.training.features import Features

    _, spec, view, stages, _ = SHIPPED
    names = block_names(spec, stages)
    timings = {}
    t0 = time.perf_counter()
    f = features_for(oasis, spec, view, cache)
    timings["native_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = features_for(oasis, LARGE_SPEC, view, cache)
    timings["large_s"] = time.perf_counter() - t0
    if g.item_ids != f.item_ids:
        failed = {**f.errors, **g.errors}
        sys.exit(f"{len(failed)} pictures failed in feature extraction (run again to retry them): {list(failed.items())[:5]}")
    large_names = block_names(LARGE_SPEC, stages)
    # name of the native block each large block is the same layer of: "lite0@288/stage5" -> "lite0/stage5"
    native_of = {lg: nat for lg, nat in zip(large_names, names)}
    averaged = {f"avg:{nat}": (f.blocks[nat] + g.blocks[lg]) / 2 for lg, nat in native_of.items()}
    feats = Features(f.item_ids, {**f.blocks, **g.blocks, **averaged})
    avg_names = [f"avg:{n}" for n in names]
    rows = [("shipped (native sizes)", names, shipped_weights(names)),
            (f"large only ({LARGE_SPEC})", large_names, shipped_weights(large_names)),
            ("mean of native and large features", avg_names, shipped_weights(avg_names))]
    for w in (0.5, 1.0):
        rows.append((f"native + large blocks (large weight {w})", names + large_names,
                     {**shipped_weights(names), **{k: v * w for k, v in shipped_weights(large_names).items()}}))
    print(f"7. Multi-scale features (OASIS 10-fold CV, shipped kernel head); extraction {timings['native_s']:.0f} s native, "
          f"{timings['large_s']:.0f} s large (0 if cached)")
    result: dict = {"large_spec": LARGE_SPEC, "timings": timings, "rows": []}
    for label, bl, weights in rows:
        _, rep = train_head(feats, oasis, columns=["valence", "arousal"], blocks=bl,
                            head_kw={**KERNEL, "block_weights": weights}, n_boot=1000)
        s = rep.metrics["scales"]
        print(f"   {label:46s} valence r {s['valence']['pearson']:.4f} [{s['valence']['pearson_lo']:.3f}, {s['valence']['pearson_hi']:.3f}]"
              f"  arousal r {s['arousal']['pearson']:.4f} [{s['arousal']['pearson_lo']:.3f}, {s['arousal']['pearson_hi']:.3f}]", flush=True)
        result["rows"].append({"configuration": label, **{c: {k: s[c][k] for k in ("pearson", "pearson_lo", "pearson_hi")}
                                                          for c in ("valence", "arousal")}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {out}")


def precision_agreement(oasis, n: int = 100) -> dict:
    """Ratings of n OASIS pictures under bfloat16 vs float32 (the heads were fitted on float32 features)."""
    from affectscope.raters.image import ImageRater
    from affectscope.stimuli import StimulusSet

    st = list(StimulusSet.from_list(oasis.data["path"].tolist()[::9][:n], ids=oasis.item_ids[::9][:n]))
    runs = {}
    for prec in ("float32", "bfloat16"):
        rater = ImageRater(concepts=0, explain=False, precision=prec)
        runs[prec] = [rater.rate_batch(st[i:i + rater.batch_size]) for i in range(0, len(st), rater.batch_size)]
    out = {}
    for col in ("valence", "arousal", "joy"):
        a = np.array([r[col] for batch in runs["float32"] for r in batch])
        b = np.array([r[col] for batch in runs["bfloat16"] for r in batch])
        out[col] = {"r": float(np.corrcoef(a, b)[0, 1]), "max_abs_diff": float(np.abs(a - b).max()), "n": len(a)}
    return out


def throughput(oasis, n: int = 64, repeats: int = 3, precision: str = "float32") -> dict:
    from affectscope.media.image import load_image
    from affectscope.raters.image import ImageRater
    from affectscope.stimuli import StimulusSet

    st = StimulusSet.from_list(oasis.data["path"].tolist()[:n], ids=oasis.item_ids[:n])
    rater = ImageRater(concepts=3, precision=precision)
    heads, backbone, view = rater._loaded
    prepared = [backbone.prepare(load_image(s.path), view) for s in st]
    bs = rater.batch_size
    backbone.embed_prepared(prepared[:bs])  # warm-up
    fwd, e2e = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, n, bs):
            backbone.embed_prepared(prepared[i:i + bs])
        fwd.append(n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        items = list(st)
        for i in range(0, n, bs):
            rater.rate_batch(items[i:i + bs])
        e2e.append(n / (time.perf_counter() - t0))
    b, e = statistics.median(fwd), statistics.median(e2e)
    return {"backbone_img_s": b, "end_to_end_img_s": e, "ratio": e / b, "n_images": n, "repeats": repeats, "batch_size": bs,
            "precision": precision}


def video(oasis, out: Path, n_clips: int = 24, per_clip: int = 4, seconds_each: float = 2.0, fps: int = 25) -> None:
    """Section 6: OASIS slideshow clips (``per_clip`` pictures, ``seconds_each`` s each, letterboxed
    to 480x360, H.264 CRF 23) rated as videos with 8 uniform frames, against the mean of the same
    letterboxed frames saved losslessly (PNG) and rated as pictures. What it measures is the video
    path itself (compression, decoding, frame choice, frame means), not agreement with humans."""
    import tempfile

    from PIL import Image

    from affectscope.media.image import load_image
    from affectscope.media.video import write_video
    from affectscope.raters.image import ImageRater
    from affectscope.stimuli import StimulusSet

    rng = np.random.default_rng(0)
    paths = oasis.data["path"].tolist()
    pick = rng.choice(len(paths), n_clips * per_clip, replace=False).reshape(n_clips, per_clip)
    cols = ("valence", "arousal", "joy", "fear", "sadness")
    rater = ImageRater(concepts=0, explain=False)
    print(f"6. Videos: {n_clips} slideshow clips of {per_clip} OASIS pictures x {seconds_each:.0f} s, {fps} fps, 480x360 H.264; "
          "rated as videos (8 uniform frames) vs the mean of their frames saved as PNG and rated as pictures")
    with tempfile.TemporaryDirectory() as tmp:
        clips, stills = [], []
        for c in range(n_clips):
            frames = []
            for i in pick[c]:
                im = Image.fromarray(load_image(paths[i]))
                im.thumbnail((480, 360))
                canvas = Image.new("RGB", (480, 360))
                canvas.paste(im, ((480 - im.width) // 2, (360 - im.height) // 2))
                stills.append(Path(tmp) / f"still{len(stills):03d}.png")  # the very frame content, losslessly
                canvas.save(stills[-1])
                frames += [np.asarray(canvas)] * int(seconds_each * fps)
            clips.append(write_video(Path(tmp) / f"clip{c:02d}.mp4", frames, fps=fps, crf=23))
        pics = list(StimulusSet.from_list(stills))
        t0 = time.perf_counter()
        as_pictures = [r for i in range(0, len(pics), rater.batch_size) for r in rater.rate_batch(pics[i:i + rater.batch_size])]
        t_pics = time.perf_counter() - t0
        st = list(StimulusSet.from_list(clips))
        t0 = time.perf_counter()
        as_videos = rater.rate_batch(st)
        t_vid = time.perf_counter() - t0
    per_row = {c: np.array([np.mean([as_pictures[k * per_clip + j][c] for j in range(per_clip)]) for k in range(n_clips)]) for c in cols}
    got = {c: np.array([r[c] for r in as_videos]) for c in cols}
    result = {"n_clips": n_clips, "pictures_per_clip": per_clip, "seconds_each": seconds_each, "fps": fps, "frames_per_video": 8,
              "agreement": {c: {"r": float(np.corrcoef(got[c], per_row[c])[0, 1]), "max_abs_diff": float(np.abs(got[c] - per_row[c]).max())}
                            for c in cols},
              "seconds_per_clip": t_vid / n_clips, "video_seconds_per_clip": per_clip * seconds_each,
              "realtime_factor": per_clip * seconds_each * n_clips / t_vid,
              "seconds_per_picture_as_picture": t_pics / len(pics)}
    for c in cols:
        a = result["agreement"][c]
        print(f"   {c:8s} video rating vs mean of its frames as pictures: r {a['r']:.4f}, max |diff| {a['max_abs_diff']:.3f}")
    print(f"   {result['seconds_per_clip']:.2f} s per {per_clip * seconds_each:.0f} s clip (decode every frame, rate 8): "
          f"{result['realtime_factor']:.1f}x real time; {result['seconds_per_picture_as_picture']:.2f} s per picture rated as a picture")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
