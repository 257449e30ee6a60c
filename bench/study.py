"""A five-rater study on the 900 OASIS pictures (needs ../shared/data): the papers' table, and the
time of a rerun once the ratings exist (comparisons + report; issue #32's target: under 60 s).

Raters: the image rater with cross-validated ratings of its training pictures (``training_items:
cv``), the same rater in-sample (what a careless comparison reports), the face rater, the colour
baseline, and an imported table (the colour ratings written back as "published outputs", which must
reproduce the colour rater's row exactly).

Usage: python bench/study.py [--data-root DIR] [--out runs/bench_study] [--json bench/study.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from affectscope.study import Study

STUDY = """
title: "OASIS, five raters"
stimuli: {{from_humans: true}}
humans:
  table: norms:oasis
  to_scale: {{valence: "valence:sam9", arousal: "arousal:sam9"}}
raters:
  - {{name: image-cv, rater: image, params: {{training_items: cv}}}}
  - {{name: image-in-sample, rater: image}}
  - {{name: face, rater: face}}
  - {{name: color, rater: color}}
  - {{name: published, ratings: {published}}}
compare: {{levels: [items], n_boot: 2000}}
{data_root}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/bench_study")
    ap.add_argument("--json", default="bench/study.json")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    published = out / "published.csv"
    root = f"data_root: {args.data_root}" if args.data_root else ""
    # the imported table: the colour rater's own ratings (rated once, in a study of their own)
    if not published.exists():
        head = STUDY.format(published="x.csv", data_root=root).split("raters:")[0]
        Study.from_text(head + "raters:\n  - {name: color, rater: color}\ncompare: {levels: [], paired: false}\n" + root + "\n").run(out / "seed", progress=False)
        (out / "seed" / "raters" / "color.csv").rename(published)
        (out / "seed" / "raters" / "color.csv.meta.json").rename(published.with_name(published.name + ".meta.json"))
    study = Study.from_text(STUDY.format(published=published, data_root=root))
    t = time.perf_counter()
    first = study.run(out / "study", progress=None)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    second = study.run(out / "study", progress=False)
    t_second = time.perf_counter() - t
    runs = second.results[second.results["level"] == "run"].pivot_table(index="rater", columns="statistic", values="value")
    print(first.table().to_string())
    print(f"\nfirst run {t_first:.1f} s; rerun (ratings exist: comparisons + paired tests + report) {t_second:.1f} s; "
          f"items recomputed on the rerun: {int(runs['n_rated_now'].sum())}")
    same = second.table().loc["published"].equals(second.table().loc["color"])
    print(f"imported table reproduces the colour rater's row: {same}")
    Path(args.json).write_text(json.dumps({"first_s": t_first, "rerun_s": t_second, "recomputed": int(runs["n_rated_now"].sum()),
                                           "table": first.table().to_dict(), "published_equals_color": bool(same)}, indent=2))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
