"""``affectscope compare``: a rater's table against human norms at the item, category and structure levels."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from affectscope.cli._common import (
    EXIT_OK,
    UsageError,
    convert,
    declarations,
    gw_categories,
    json_text,
    load_table,
    table_options,
)


def add_parser(sub: Any) -> None:
    c = sub.add_parser("compare", help="compare a rater's table with human norms (items, categories, structure)",
                       parents=[table_options(sided=True)],
                       description="Compare ratings with human norms. Tables are .csv (+ .meta.json) or .parquet files, "
                                   "or norms:NAME for a shipped loader (oasis, emotion6, ferplus, ferplus_clear, cowen_keltner).")
    c.add_argument("rater_file", metavar="RATER", help="ratings file")
    c.add_argument("human_file", metavar="HUMAN", help="human norms file, or norms:NAME")
    c.add_argument("--level", default="all", choices=["all", "items", "categories", "structure"],
                   help="what to compare (default: items and categories, where both tables have them)")
    c.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap resamples for CIs (default: 2000 at item level; none at structure level, where each "
                        "resample recomputes the RSA over all item pairs: give e.g. 1000 for the RSA CI)")
    c.add_argument("--ci-method", default="bca", choices=["bca", "percentile"],
                   help="item-level bootstrap CIs: bca (bias-corrected and accelerated; default) or percentile "
                        "(scipy.stats.bootstrap; the table's ci_method column says which each scale got)")
    c.add_argument("--n-perm", type=int, default=1000, help="permutations for the RSA test (default: 1000)")
    c.add_argument("--groups", default="auto", metavar="COLUMN",
                   help="resample whole clusters of related items for the CIs (item level) and the RSA test and CI "
                        "(structure level): a column of the human (or rater) table; 'auto' (default) uses the human table's 'theme' column where there is one (norms:oasis: "
                        "248 themes), 'none' resamples items")
    c.add_argument("--metric", default="auto", choices=["auto", "correlation", "cosine", "euclidean", "rsatoolbox_euclidean"],
                   help="structure level: RDM distance between item patterns (default auto: correlation for category "
                        "distributions, euclidean for rating scales)")
    c.add_argument("--gw-categories", default="auto", metavar="COLUMN",
                   help="structure level: each item's category for GW category-level matching: a column of the human table, "
                        "'top' (its most chosen category), 'none', or auto (default: 'top' where the human table has "
                        "category columns, else its 'category' column if any, e.g. OASIS's)")
    c.add_argument("--n-null", type=int, default=20,
                   help="structure level: shuffled-null GW repetitions, giving the matching rates' chance level, 95%% "
                        "interval and permutation p-value (default 20, the fewest with which p < 0.05 can be reached; 0 "
                        "skips; each repetition costs about one GW solve, minutes at 1,000 items on 2 cores)")
    c.add_argument("--n-jobs", type=int, default=1, metavar="N",
                   help="structure level: threads for the shuffled-null GW repetitions (default 1; the null is the same "
                        "for any N; threads pay on large problems, n in the hundreds and up, and can lose on small ones)")
    c.add_argument("--no-gw", action="store_true", help="structure level: RSA only, no GW alignment")
    c.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="structure level: run the RSA permutations, bootstrap resamples and GW null repetitions as Ray tasks "
                        "(a local Ray runtime, or the cluster of RAY_ADDRESS; same seeds, same results; needs affectscope[ray])")
    c.add_argument("--device", default=None, help="structure level: run the GW solves on this torch device, e.g. cuda "
                                                   "(default: numpy on the CPU)")
    c.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    c.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page with the tables and plots")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope._ray import EngineUnavailable
    from affectscope.compare import CompareError, InSampleWarning, compare_categories, compare_items, compare_structure
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError
    from affectscope.taxonomy import ScaleError

    warnings.simplefilter("ignore", InSampleWarning)  # the summaries print it
    on_missing = "drop" if args.drop_missing else "raise"
    groups = None if args.groups.lower() == "none" else args.groups
    results: dict[str, Any] = {}
    try:
        declared = declarations(args)
        rater = load_table(args.rater_file, args.data_root, declared["rater"])
        humans = load_table(args.human_file, args.data_root, declared["human"])
        humans = convert(humans, args.to_scale)
        # "all" runs items and categories where both tables have such columns; structure (slow) only when asked
        both = {kind: bool(rater.columns_of(kind) and humans.columns_of(kind)) for kind in ("scale", "category")}
        runners = {
            "items": (both["scale"], lambda: compare_items(rater, humans, key=args.key, on_missing=on_missing,
                                                           n_boot=2000 if args.n_boot is None else args.n_boot,
                                                           groups=groups, ci_method=args.ci_method)),
            "categories": (both["category"], lambda: compare_categories(rater, humans, key=args.key, on_missing=on_missing)),
            "structure": (False, lambda: compare_structure(rater, humans, key=args.key, on_missing=on_missing, metric=args.metric,
                                                           categories=gw_categories(humans, args.gw_categories), n_null=args.n_null,
                                                           n_jobs=args.n_jobs, n_boot=args.n_boot or 0,
                                                           n_perm=args.n_perm, gw=not args.no_gw, device=args.device,
                                                           groups=groups, engine=args.engine)),
        }
        for level, (in_all, run) in runners.items():
            if args.level != level and not (args.level == "all" and in_all):
                continue
            res = run()
            results[level] = res
            print(res.summary())
            print()
        if args.level == "all" and results:
            print("(--level all runs items and categories; the structure level (RSA, GW alignment) is slower and runs "
                  "with --level structure)", file=sys.stderr)
    except (CompareError, RatingsError, ScaleError, NormsError, KeyError, EngineUnavailable) as exc:
        raise UsageError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    if not results:
        raise UsageError("nothing comparable: the tables share no scale or category columns")
    if args.json:
        Path(args.json).write_text(json_text({k: v.to_dict() for k, v in results.items()}))
        print(f"results: {Path(args.json).resolve()}")
    if args.report:
        from affectscope.report.compare_page import write_compare_report

        page = write_compare_report(results, args.report, title=f"affectscope: {Path(args.rater_file).name} vs {args.human_file}")
        print(f"report: {page.resolve()}")
    return EXIT_OK
