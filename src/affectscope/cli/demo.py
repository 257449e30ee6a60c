"""``affectscope demo``: the main job on the bundled sample photos: a ratings table and an HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from affectscope.cli._common import parse_params, rater_options, run_rating


def add_parser(sub: Any) -> None:
    d = sub.add_parser("demo", help="the main job on bundled sample photos: a ratings table and an HTML page", parents=[rater_options()])
    d.add_argument("--out-dir", default="runs/demo", help="output folder (default: runs/demo)")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope.samples import sample_paths
    from affectscope.stimuli import StimulusSet

    out_dir = Path(args.out_dir)
    stimuli = StimulusSet.from_paths(sample_paths())
    print(f"demo: rating {len(stimuli)} license-clean sample photos shipped with scikit-image")
    return run_rating(stimuli, args.rater, parse_params(args.param), out_dir / "ratings.csv", None, False, True,
                       out_dir / "report.html", args.quiet, title="affectscope demo: sample photos")
