"""``affectscope report``: one self-contained HTML report of a ratings table, optionally against human norms."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from affectscope.cli._common import EXIT_OK, UsageError, convert, declarations, gw_categories, load_table, table_options


def add_parser(sub: Any) -> None:
    rp = sub.add_parser("report", help="one self-contained HTML report of a ratings table: distributions, comparison with humans, "
                                       "video time series, the item grid", parents=[table_options(sided=True)])
    rp.add_argument("ratings_file", metavar="RATINGS", help="ratings file (.csv with .meta.json, or .parquet)")
    rp.add_argument("--human", default=None, metavar="HUMAN", help="also compare with these human norms (file or norms:NAME)")
    rp.add_argument("--series", default=None, metavar="DIR", help="per-video series written by the face rater (-p series_dir=DIR)")
    rp.add_argument("--structure", action="store_true",
                    help="also compare the structure (RSA, GW alignment): RDMs grouped by category and the GW plan on the page")
    rp.add_argument("--n-null", type=int, default=20,
                    help="with --structure: shuffled-null GW repetitions (default 20; -1 skips GW, RSA only)")
    rp.add_argument("--title", default=None)
    rp.add_argument("--out", "-o", default="report.html", help="the HTML file (default: report.html)")
    rp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope.compare import CompareError, InSampleWarning, compare_categories, compare_items, compare_structure
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError
    from affectscope.report import write_report
    from affectscope.taxonomy import ScaleError

    warnings.simplefilter("ignore", InSampleWarning)  # the summaries print it, the page shows it

    comparisons: dict[str, Any] = {}
    try:
        declared = declarations(args)
        ratings = load_table(args.ratings_file, args.data_root, declared["rater"])
        if args.human:
            humans = load_table(args.human, args.data_root, declared["human"])
            humans = convert(humans, args.to_scale)
            on_missing = "drop" if args.drop_missing else "raise"
            ok = ratings.ok()
            if ok.columns_of("scale") and humans.columns_of("scale"):
                comparisons["items"] = compare_items(ok, humans, key=args.key, on_missing=on_missing)
            if ok.columns_of("category") and humans.columns_of("category"):
                comparisons["categories"] = compare_categories(ok, humans, key=args.key, on_missing=on_missing)
            if args.structure:
                comparisons["structure"] = compare_structure(ok, humans, key=args.key, on_missing=on_missing,
                                                             categories=gw_categories(humans, "auto"), n_null=max(args.n_null, 0),
                                                             n_perm=1000, gw=args.n_null >= 0)
            if not comparisons:
                raise UsageError("nothing comparable: the tables share no scale or category columns")
            for res in comparisons.values():
                print(res.summary())
                print()
    except (CompareError, RatingsError, ScaleError, NormsError, KeyError) as exc:
        raise UsageError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    page = write_report(ratings, args.out, comparisons=comparisons or None, series_dir=args.series,
                        title=args.title or f"affectscope report: {Path(args.ratings_file).name}")
    print(f"report: {page.resolve()}")
    return EXIT_OK
