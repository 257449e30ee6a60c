"""``affectscope features``, ``encode`` and ``rsa``: network activations for brain studies, encoding
models fitted to brain data, and RSA of each layer with the brain (:mod:`affectscope.brain` does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from affectscope.cli._common import EXIT_OK, EXIT_PARTIAL, UsageError, json_text, parse_params


def add_parser(sub: Any) -> None:
    f = sub.add_parser("features", help="export network activations (layers) of stimuli, for brain studies",
                       description="Activations of the image or face rater's networks: every pooled stage, the heads' "
                                   "inputs and outputs, or the face network's penultimate layer; one row per stimulus "
                                   "(videos: per sampled frame, plus the frame mean). Resumable: finished items are kept "
                                   "in a cache beside the output.")
    f.add_argument("paths", nargs="*", metavar="PATH", help="image/video files or folders (searched recursively)")
    f.add_argument("--rater", default="image", choices=["image", "face"], help="whose networks (default: image)")
    f.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="rater parameter (repeatable)")
    f.add_argument("--layers", default=None, help="comma-separated layer names (default: all; see --list-layers)")
    f.add_argument("--list-layers", action="store_true", help="print the rater's layers with their sizes and exit")
    f.add_argument("--frames", type=int, default=8, help="frames per video, evenly spaced (default: 8)")
    f.add_argument("--out", "-o", default="activations.npz", help="output: .npz, .parquet or .h5 (default: activations.npz)")
    f.add_argument("--cache", default=None, help="resumable cache of finished items (default: OUT.cache.sqlite)")
    f.add_argument("--fresh", action="store_true", help="discard the cache and start over")
    f.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    f.set_defaults(func=run_features)

    e = sub.add_parser("encode", help="fit cross-validated encoding models of brain data from activations",
                       description="Predict brain responses (an items x targets table: voxels, ROIs, electrodes) from "
                                   "activations with ridge regression, the regularisation chosen per target inside each "
                                   "training fold: one model per layer, or one banded model over several layers (--banded). "
                                   "Reports out-of-fold r per target, permutation p-values and, with repeats, the noise ceiling.")
    e.add_argument("acts", metavar="ACTS", help="activations file from `affectscope features`")
    e.add_argument("brain", metavar="BRAIN", help="brain data: .csv/.tsv (item_id, [repeat], targets...), .npz or .npy")
    e.add_argument("--layers", default=None, help="comma-separated layers (default: every layer)")
    e.add_argument("--banded", action="store_true", help="one banded ridge model over the layers (each gets its own weight)")
    e.add_argument("--cv", type=int, default=10, help="outer cross-validation folds (default: 10)")
    e.add_argument("--groups", default=None, metavar="COLUMN",
                   help="a column of the BRAIN table naming each item's run or session: folds hold out whole groups and "
                        "the permutations move whole groups")
    e.add_argument("--n-perm", type=int, default=1000, help="permutations for p-values (default: 1000; 0 skips)")
    e.add_argument("--n-iter", type=int, default=20, help="random band-weight candidates for --banded (default: 20)")
    e.add_argument("--seed", type=int, default=0, help="folds, candidates and permutations (default: 0)")
    e.add_argument("--out", "-o", default="encoding.json", help="results as JSON (default: encoding.json)")
    e.add_argument("--table", default=None, metavar="CSV", help="also write one row per target (and layer) as CSV")
    e.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page with the figures")
    e.set_defaults(func=run_encode)

    r = sub.add_parser("rsa", help="RSA of each layer's RDM with a brain RDM (or brain patterns)",
                       description="Compare each layer's representational dissimilarity matrix with the brain's, with the "
                                   "inference of `affectscope compare --level structure` (permutation test, bootstrap CI, "
                                   "optional GW alignment).")
    r.add_argument("acts", metavar="ACTS", help="activations file from `affectscope features`")
    r.add_argument("brain", metavar="BRAIN", help="brain patterns (as for encode) or an RDM (.npz key 'rdm', or a square CSV)")
    r.add_argument("--layers", default=None, help="comma-separated layers (default: every layer)")
    r.add_argument("--metric", default="correlation", choices=["correlation", "cosine", "euclidean", "rsatoolbox_euclidean"],
                   help="RDM distance between a layer's item patterns (default: correlation)")
    r.add_argument("--brain-metric", default="correlation", choices=["correlation", "cosine", "euclidean", "rsatoolbox_euclidean"],
                   help="RDM distance between the brain's item patterns (default: correlation)")
    r.add_argument("--method", default="spearman", choices=["pearson", "spearman", "kendall_tau_a"], help="RSA statistic")
    r.add_argument("--n-perm", type=int, default=1000, help="permutations (default: 1000)")
    r.add_argument("--n-boot", type=int, default=0, help="bootstrap resamples for a CI (default: 0, none)")
    r.add_argument("--groups", default=None, metavar="COLUMN", help="a column of the BRAIN table: clusters of related items")
    r.add_argument("--gw", action="store_true", help="also align each layer with the brain by Gromov-Wasserstein (slow)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", "-o", default="rsa.json", help="results as JSON (default: rsa.json)")
    r.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page with the figure")
    r.set_defaults(func=run_rsa)


def _layers(arg: str | None) -> list[str] | None:
    return [x.strip() for x in arg.split(",") if x.strip()] if arg else None


def run_features(args: argparse.Namespace) -> int:
    from affectscope.brain.activations import ActivationsError, FORMATS
    from affectscope.brain.extract import cache_path_for, extract_activations, list_layers
    from affectscope.raters.base import RaterUnavailable
    from affectscope.stimuli import StimulusError, StimulusSet, skipped_summary

    params = parse_params(args.param)
    try:
        if args.list_layers:
            for name, width in list_layers(args.rater, **params).items():
                print(f"{name}\t{width}")
            return EXIT_OK
        if not args.paths:
            raise UsageError("nothing to read: give image/video files or folders (or --list-layers)")
        out = Path(args.out)
        if out.suffix.lower() not in FORMATS:
            raise UsageError(f"--out must end in {', '.join(FORMATS)}; got {out.name!r}")
        stimuli = StimulusSet.from_paths(args.paths)
        if stimuli.skipped:
            print(f"affectscope features: {skipped_summary(stimuli.skipped)}", file=sys.stderr)
        cache = Path(args.cache) if args.cache else cache_path_for(out)
        if args.fresh and cache.exists():
            cache.unlink()
        acts = extract_activations(stimuli, args.rater, layers=_layers(args.layers), cache=cache, frames=args.frames,
                                   progress=not args.quiet, **params)
    except (ActivationsError, StimulusError, RaterUnavailable, ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    acts.save(out)
    n_items = int((acts.frame == -1).sum())
    print(f"activations of {n_items} items ({len(acts.item_ids)} rows), {len(acts.layers)} layers "
          f"({sum(acts.widths.values()):,} units): {out.resolve()}")
    if acts.errors:
        print(f"{len(acts.errors)} item(s) gave no activations:", file=sys.stderr)
        for item, msg in list(acts.errors.items())[:10]:
            print(f"  {item}: {msg}", file=sys.stderr)
        if len(acts.errors) > 10:
            print(f"  ... and {len(acts.errors) - 10} more", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, list[str], Any]:
    """Activations, brain data, the items in order, and the groups."""
    from affectscope.brain.activations import Activations
    from affectscope.brain.brain_data import load_brain

    acts = Activations.load(args.acts)
    brain = load_brain(args.brain, group_column=args.groups)
    ids = brain.item_order(list(acts.items().item_ids))
    groups = None
    if args.groups:
        if not brain.columns or args.groups not in brain.columns:
            raise UsageError(f"--groups {args.groups}: a column of a CSV/TSV brain table")
        groups = brain.columns[args.groups]
    return acts, brain, ids, groups


def run_encode(args: argparse.Namespace) -> int:
    from affectscope.brain.activations import ActivationsError
    from affectscope.brain.brain_data import BrainDataError
    from affectscope.brain.encoding import EncodingError, fit_encoding

    try:
        acts, brain, ids, groups = _inputs(args)
        if brain.is_rdm:
            raise UsageError(f"{args.brain} is an RDM; encoding models need responses per item (use `affectscope rsa` for RDMs)")
        sel = acts.select(ids)
        layers = _layers(args.layers) or list(sel.layers)
        spaces = {name: sel.layer(name) for name in layers}
        opts = dict(targets=brain.targets, cv=args.cv, groups=groups, n_iter=args.n_iter, n_perm=args.n_perm,
                    repeats=brain.repeats, random_state=args.seed)
        if args.banded:
            if len(spaces) < 2:
                raise UsageError("--banded needs two or more --layers")
            banded = fit_encoding(spaces, brain.data, **opts)
            per_layer: dict[str, Any] = {}
            print(banded.summary())
        else:
            banded = None
            per_layer = {}
            for name, x in spaces.items():
                per_layer[name] = fit_encoding({name: x}, brain.data, **opts)
                print(per_layer[name].summary())
    except (ActivationsError, BrainDataError, EncodingError) as exc:
        raise UsageError(str(exc)) from None
    payload = {"acts": str(args.acts), "brain": str(args.brain), "items": len(ids),
               "layers": {k: v.to_dict() for k, v in per_layer.items()}, "banded": banded.to_dict() if banded else None}
    Path(args.out).write_text(json_text(payload))
    print(f"results: {Path(args.out).resolve()}")
    if args.table:
        import pandas as pd

        frames = [v.table().assign(layer=k) for k, v in per_layer.items()] or [banded.table().assign(layer="+".join(layers))]
        pd.concat(frames).reset_index().to_csv(args.table, index=False)
        print(f"table: {Path(args.table).resolve()}")
    if args.report:
        from affectscope.report.brain_page import write_brain_report

        page = write_brain_report(args.report, encoding=per_layer or None, banded=banded)
        print(f"report: {Path(page).resolve()}")
    return EXIT_OK


def run_rsa(args: argparse.Namespace) -> int:
    from affectscope.brain.activations import ActivationsError
    from affectscope.brain.brain_data import BrainDataError
    from affectscope.brain.layer_rsa import layer_rsa
    from affectscope.compare import CompareError

    try:
        acts, brain, ids, groups = _inputs(args)
        results = layer_rsa(acts, brain, layers=_layers(args.layers), metric=args.metric, brain_metric=args.brain_metric,
                            groups=None if groups is None else list(groups), gw=args.gw, method=args.method,
                            n_perm=args.n_perm, n_boot=args.n_boot, random_state=args.seed)
    except (ActivationsError, BrainDataError, CompareError) as exc:
        raise UsageError(str(exc)) from None
    for res in results.values():
        print(res.summary())
        print()
    Path(args.out).write_text(json_text({k: v.to_dict() for k, v in results.items()}))
    print(f"results: {Path(args.out).resolve()}")
    if args.report:
        from affectscope.report.brain_page import write_brain_report

        page = write_brain_report(args.report, rsa=results)
        print(f"report: {Path(page).resolve()}")
    return EXIT_OK
