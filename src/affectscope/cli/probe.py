"""``affectscope probe``: a rater's answers to content-free stimuli (colour fields), as a table and a plot."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from affectscope.cli._common import EXIT_OK, EXIT_PARTIAL, UsageError, parse_params, rater_options


def add_parser(sub: Any) -> None:
    pr = sub.add_parser("probe", help="probe a rater with content-free stimuli (colour fields) and plot its answers",
                        parents=[rater_options()])
    pr.add_argument("kind", choices=["colors"], help="colors: hue circle, grey ramp, saturation ramps")
    pr.add_argument("--out-dir", default="runs/probe_colors", help="output folder (default: runs/probe_colors)")
    pr.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope.probes import color_probe_images, plot_color_probe
    from affectscope.raters.registry import UnknownRaterError, make_rater
    from affectscope.run.rate import rate
    from affectscope.stimuli import StimulusSet

    out_dir = Path(args.out_dir)
    table = color_probe_images(out_dir / "images")
    try:
        rater = make_rater(args.rater, **parse_params(args.param))
        cols = [c.name for c in rater.outputs() if c.kind == "scale"]
    except (UnknownRaterError, TypeError, ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    if not cols:
        raise UsageError(f"rater {args.rater!r} outputs no rating scales to probe")
    stimuli = StimulusSet.from_list(table["path"].tolist(), ids=table["item_id"].tolist())
    result = rate(stimuli, rater, store=out_dir / "probe.store.sqlite", progress=None if not args.quiet else False)
    merged = table.merge(result.ratings.data[cols].reset_index(), on="item_id", how="left")
    merged.to_csv(out_dir / "colors.csv", index=False)
    plot = plot_color_probe(merged, cols, out_dir / "colors.png", title=f"{args.rater}: ratings of flat colour fields")
    for family in ("hue", "brightness", "saturation-red", "saturation-green", "saturation-blue"):
        sub = merged[merged.family == family]
        spans = ", ".join(f"{c} {sub[c].min():.2f}-{sub[c].max():.2f}" for c in cols)
        print(f"{family:18s} {len(sub):2d} fields  {spans}")
    print(f"table: {(out_dir / 'colors.csv').resolve()}\nplot: {plot.resolve()}")
    return EXIT_PARTIAL if result.n_failed else EXIT_OK
