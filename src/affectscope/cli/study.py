"""``affectscope study``: several raters against the same humans in one run (``run``), and a
commented example study file (``init``)."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from affectscope.cli._common import EXIT_OK, EXIT_PARTIAL, UsageError


def add_parser(sub: Any) -> None:
    st = sub.add_parser("study", help="several raters against the same humans in one run: the papers' table and figures",
                        description="Run a study file (`affectscope study init` writes a commented example): every rater "
                                    "on the same stimuli, each resumable, compared with the same humans; writes the results "
                                    "table, a lock file and one report.")
    sts = st.add_subparsers(dest="study_cmd", required=True)
    r = sts.add_parser("run", help="run a study file (a rerun recomputes nothing)")
    r.add_argument("file", metavar="STUDY.yaml")
    r.add_argument("--out-dir", "-o", default=None, help="output folder (default: runs/<study file stem>)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    i = sts.add_parser("init", help="write a commented example study file")
    i.add_argument("file", metavar="STUDY.yaml", nargs="?", default="study.yaml")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    st.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.study_cmd == "init":
        out = Path(args.file)
        if out.exists() and not args.force:
            raise UsageError(f"{out} exists; pass --force to overwrite it")
        out.write_text((resources.files("affectscope.study") / "example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        print(f"study file: {out.resolve()}\nrun it: affectscope study run {out}")
        return EXIT_OK
    from affectscope.study import Study, StudyError

    try:
        study = Study.from_yaml(args.file)
        result = study.run(args.out_dir or Path("runs") / Path(args.file).stem, progress=False if args.quiet else None)
    except StudyError as exc:
        raise UsageError(str(exc)) from None
    table = result.table()
    if not table.empty:
        print(table.to_string())
    if not result.paired.empty:
        best = result.paired.sort_values("p_bootstrap").head(5)
        print("\npaired tests (r(A, humans) - r(B, humans)):")
        for _, p in best.iterrows():
            print(f"  {p['scale']}: {p['rater_a']} - {p['rater_b']} = {p['delta']:+.3f} [{p['delta_lo']:+.3f}, {p['delta_hi']:+.3f}], "
                  f"p = {p['p_bootstrap']:.3g} (bootstrap), {p['williams_p']:.3g} (Williams)")
    notes = [n for got in result.comparisons.values() for res in got.values() for n in getattr(res, "notes", [])
             if n.startswith("warning")]
    for n in dict.fromkeys(notes):
        print(n, file=sys.stderr)
    flagged = False
    for name, run in result.runs.items():
        where = result.out_dir / "raters" / (name + ".csv") if run.source == "rated" else name
        for what, column, series in (("failed", "error", run.ratings.errors), ("came with a warning", "warning", run.ratings.warnings)):
            if len(series):
                flagged = True
                print(f"{name}: {len(series)} item(s) {what} (see {where}, column {column!r})", file=sys.stderr)
        if run.failure_line:
            flagged = True
            print(f"{name}: {run.failure_line}", file=sys.stderr)
    left = result.results[result.results["statistic"].str.startswith("dropped_") & (result.results["value"] > 0)]
    for _, row in left.iterrows():
        print(f"{row['rater']} ({row['level']}): {int(row['value'])} item(s) not compared: {row['statistic'][8:]}", file=sys.stderr)
    print(f"\nresults: {(result.out_dir / 'results.csv').resolve()}\nlock: {(result.out_dir / 'study.lock.json').resolve()}")
    print(f"report: {result.report.resolve()}")
    return EXIT_PARTIAL if flagged else EXIT_OK
