"""``affectscope rate``: rate stimuli with any rater, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from affectscope.cli._common import UsageError, parse_params, rater_options, run_rating

HELP = "rate images/videos with a rater; resumable"


def add_parser(sub: Any) -> None:
    r = sub.add_parser("rate", help=HELP, parents=[rater_options()],
                       description="Rate stimuli. Each finished item is saved at once in a run store beside the output; "
                                   "running the same command again resumes where it stopped.")
    r.add_argument("paths", nargs="*", metavar="PATH", help="image/video files or folders (searched recursively)")
    r.add_argument("--stimuli", metavar="CSV", help="a CSV listing stimuli instead of PATHs")
    r.add_argument("--path-column", default="path", help="path column of --stimuli (default: path)")
    r.add_argument("--id-column", default=None, help="id column of --stimuli (default: the path as written)")
    r.add_argument("--text-column", default=None, help="rate the texts in this column of --stimuli (text stimuli; needs --id-column)")
    r.add_argument("--pilot", type=int, default=None, metavar="N", help="rate a stratified pilot subset: N items per --pilot-by group")
    r.add_argument("--pilot-by", default="category", help="metadata column of --stimuli to stratify the pilot by (default: category)")
    r.add_argument("--pilot-seed", type=int, default=0, help="seed of the pilot draw (default: 0)")
    g = r.add_argument_group("llm rater (--rater llm; the API key is read from the variable named by -p api_key_env=..., default OPENAI_API_KEY)")
    g.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    g.add_argument("--model", default=None, help="model name as the server knows it")
    g.add_argument("--protocol", default=None, help="protocol name or YAML file (see `affectscope protocols`)")
    g.add_argument("--participants", type=int, default=None, help="participants per item (default: 1)")
    r.add_argument("--out", "-o", default="ratings.csv", help="output table, .csv or .parquet (default: ratings.csv)")
    r.add_argument("--store", default=None, help="run store (default: OUT.store.sqlite)")
    r.add_argument("--fresh", action="store_true", help="discard the run store and start over")
    r.add_argument("--no-retry-errors", action="store_true", help="keep earlier failures instead of retrying them")
    r.add_argument("--to-categories", default=None, metavar="SET",
                   help="express the category outputs in another set through the documented crosswalks, e.g. artemis9 "
                        "(Affection's 9); see `affectscope taxonomy`")
    r.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page of the ratings")
    e = r.add_argument_group("scale out (docs/scaling.md; needs: pip install 'affectscope[ray]')")
    e.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local (default) or ray: batches on Ray actors, the run store kept here")
    e.add_argument("--ray-address", default=None, help="an existing Ray cluster (e.g. ray://HEAD:10001, auto); default: a local Ray runtime")
    e.add_argument("--workers", type=int, default=2, help="Ray actors, each with its own rater (default: 2)")
    e.add_argument("--worker-cpus", type=float, default=1.0, help="CPUs per Ray actor (default: 1)")
    e.add_argument("--worker-gpus", type=float, default=0.0, help="GPUs per Ray actor (default: 0)")
    e.add_argument("--ship-bytes", action="store_true",
                   help="send the files' bytes through Ray's object store (for files the workers cannot see)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope.stimuli import StimulusError, StimulusSet

    try:
        if args.stimuli:
            if args.paths:
                raise UsageError("give input PATHs or --stimuli CSV, not both")
            stimuli = StimulusSet.from_csv(args.stimuli, path_column=args.path_column, id_column=args.id_column,
                                           text_column=args.text_column)
        elif args.paths:
            if args.text_column:
                raise UsageError("--text-column needs --stimuli CSV")
            stimuli = StimulusSet.from_paths(args.paths)
            if stimuli.skipped:
                from affectscope.stimuli import skipped_summary

                print(f"affectscope rate: {skipped_summary(stimuli.skipped)}", file=sys.stderr)
        else:
            raise UsageError("nothing to rate: give image/video files or folders, or --stimuli CSV")
        if args.pilot:
            stimuli = stimuli.pilot(args.pilot, by=args.pilot_by, seed=args.pilot_seed)
            print(f"pilot: {len(stimuli)} items ({args.pilot} per {args.pilot_by!r}, seed {args.pilot_seed})")
    except StimulusError as exc:
        raise UsageError(str(exc)) from None
    params = parse_params(args.param)
    llm_flags = {"base_url": args.base_url, "model": args.model, "participants": args.participants, "protocol": args.protocol}
    given = {k: v for k, v in llm_flags.items() if v is not None}
    if given and args.rater != "llm":
        raise UsageError(f"--{', --'.join(k.replace('_', '-') for k in given)} belong to --rater llm (the rater now is {args.rater!r})")
    params.update(given)
    ray_options = None
    if args.engine == "ray":
        from affectscope.run.ray_engine import RayOptions

        try:
            ray_options = RayOptions(address=args.ray_address, workers=args.workers, worker_cpus=args.worker_cpus,
                                     worker_gpus=args.worker_gpus, ship_bytes=args.ship_bytes)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.ray_address or args.ship_bytes:
        raise UsageError("--ray-address and --ship-bytes belong to --engine ray")
    return run_rating(stimuli, args.rater, params, Path(args.out), args.store, args.fresh,
                       not args.no_retry_errors, Path(args.report) if args.report else None, args.quiet,
                       title=f"affectscope: {args.rater} ratings", to_categories=args.to_categories,
                       engine=args.engine, ray_options=ray_options)
