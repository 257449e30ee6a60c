"""``affectscope train``: a head trained on human norms, with a cross-validated report
(:func:`affectscope.training.train.train_from_norms` does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from affectscope.cli._common import EXIT_OK, UsageError, convert, declarations, json_text, load_table, table_options

#: The recipe settings that have a flag of the same name.
RECIPE_FLAGS = ("backbone", "pooling", "view", "blocks", "model", "n_components", "stage_weight", "derived")


#: The names of :data:`affectscope.training.train.RECIPES` (written out so that the parser does not import
#: the training stack; a test keeps them equal).
RECIPE_NAMES = ("basic", "shipped")


def add_parser(sub: Any) -> None:
    tr = sub.add_parser("train", help="train a head on human norms with a cross-validated report",
                        parents=[table_options(sided=False, what="norms", drop_missing=False)],
                        description="Train a head (rating scales or a category distribution) on backbone features of "
                                    "stimuli with human norms, report K-fold cross-validated agreement, save the head. "
                                    "Videos are sampled into frames; CV folds keep each video's frames together.")
    tr.add_argument("norms", metavar="NORMS", help="norms table (.csv + .meta.json, .parquet) or norms:NAME")
    tr.add_argument("paths", nargs="*", metavar="PATH", help="stimulus files/folders (default: the norms' path column)")
    tr.add_argument("--columns", default=None, help="scale columns to learn, comma-separated (e.g. valence,arousal)")
    tr.add_argument("--taxonomy", default=None, help="learn this category distribution instead (e.g. emotion6)")
    tr.add_argument("--recipe", default="basic", choices=RECIPE_NAMES,
                    help="defaults for the eight options below: basic (Lite0, mean pooling, stages 5-7 + head, ridge; fast) or shipped "
                         "(the default image rater's heads, as scripts/train_default_heads.py trains them: Lite0+1+2, mean+std "
                         "pooling, + ImageNet logits, kernel ridge on PCA-128, stages weighted 0.6, + derived blocks; about 4x "
                         "slower to extract). Each option overrides its part (default: basic)")
    tr.add_argument("--backbone", default=None, help="lite0, lite1, lite2 (lite0@288: another input size), faces (the face channel, needs the faces "
                    "extra) or an ensemble like lite0+lite2+faces (recipe basic: lite0)")
    tr.add_argument("--pooling", default=None, choices=["mean", "mean+std"], help="stage pooling (recipe basic: mean, shipped: mean+std)")
    tr.add_argument("--view", default=None, help="center, full, center+flip, full+flip (every recipe: full+flip)")
    tr.add_argument("--blocks", default=None, help="feature blocks (recipe basic: stage5,stage6,stage7,head)")
    tr.add_argument("--model", default=None, choices=["linear", "kernel"], help="scale head model (recipe basic: linear)")
    tr.add_argument("--n-components", type=int, default=None, help="kernel head: PCA components (recipe basic: 256, shipped: 128)")
    tr.add_argument("--stage-weight", type=float, default=None,
                    help="weight of the stage blocks relative to head and logits, each block standardised first (recipe basic: 1, shipped: 0.6)")
    tr.add_argument("--derived", default=None, action=argparse.BooleanOptionalAction,
                    help="add two blocks computed from the Lite0+1+2 features, each at weight 0.5: the shipped Emotion6 head's "
                         "probabilities and the word norms of the ImageNet concepts seen (affectscope.training.derived; recipe basic: off, shipped: on)")
    tr.add_argument("--balance", default="none", choices=["none", "class-balanced"], help="distribution head: class weights")
    tr.add_argument("--tau", type=float, default=0.0, help="distribution head: logit adjustment strength (default 0)")
    tr.add_argument("--C", type=float, default=1.0, help="distribution head: inverse L2 penalty (default 1)")
    tr.add_argument("--frames", type=int, default=8, help="frames sampled per video (default: 8)")
    tr.add_argument("--folds", type=int, default=10, help="cross-validation folds (default: 10)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default: 1000)")
    tr.add_argument("--out", "-o", default="head.npz", help="head file to write (.npz)")
    tr.add_argument("--cache", default=None, help="feature cache (default: OUT stem + .features.sqlite)")
    tr.add_argument("--json", default=None, metavar="FILE", help="also write the CV report as JSON")
    tr.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    tr.add_argument("--engine", default="local", choices=["local", "ray"],
                    help="ray: extract the features on Ray actors (a local Ray runtime, or the cluster of RAY_ADDRESS); "
                         "the cache stays here (needs affectscope[ray]; docs/scaling.md)")
    tr.add_argument("--workers", type=int, default=2, help="Ray actors for --engine ray (default: 2)")
    tr.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope._params import InvalidParameterError
    from affectscope._ray import EngineUnavailable
    from affectscope.training.heads import HeadError
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError
    from affectscope.stimuli import StimulusError, StimulusSet
    from affectscope.taxonomy import ScaleError
    from affectscope.training.train import train_from_norms

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must end in .npz, not {out.name!r}")
    try:
        declared = declarations(args, sided=False)["human"]
        if args.taxonomy and not declared["categories"]:
            declared["categories"] = args.taxonomy
        norms = load_table(args.norms, args.data_root, declared)
        norms = convert(norms, args.to_scale, side=None)
        stimuli = StimulusSet.from_paths(args.paths) if args.paths else None
        cache = Path(args.cache) if args.cache else out.with_name(out.stem + ".features.sqlite")
        result = train_from_norms(
            norms, stimuli, columns=args.columns.split(",") if args.columns else None, taxonomy=args.taxonomy,
            recipe=args.recipe, key=args.key, frames=args.frames, folds=args.folds, seed=args.seed, n_boot=args.n_boot,
            balance=args.balance, tau=args.tau, C=args.C, cache=cache, trained_on=args.norms, progress=not args.quiet,
            engine=args.engine, ray_workers=args.workers, **{k: getattr(args, k) for k in RECIPE_FLAGS},
        )
    except InvalidParameterError as exc:  # the library's checks, said with the flags
        raise UsageError(exc.with_flags()) from None
    except HeadError as exc:
        raise UsageError(str(exc).replace("derived=False, --no-derived", "--no-derived")) from None
    except (NormsError, RatingsError, ScaleError, StimulusError, KeyError, ValueError, EngineUnavailable) as exc:
        raise UsageError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    print(f"train: {result.n_matched} of {result.n_found} stimuli have norms ({len(norms)} normed items)")
    for k, v in list(result.skipped.items())[:10]:
        print(f"  skipped {k}: {v}", file=sys.stderr)
    if len(result.skipped) > 10:
        print(f"  ... and {len(result.skipped) - 10} more skipped", file=sys.stderr)
    result.head.save(out)
    print(result.report.summary())
    print(f"head: {out.resolve()}")
    if args.json:
        Path(args.json).write_text(json_text(result.report.to_dict()))
        print(f"report: {Path(args.json).resolve()}")
    print(f"use it: affectscope rate IMAGES --rater image -p heads='[\"{out}\"]'")
    return EXIT_OK
