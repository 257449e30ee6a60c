"""Size and opening time of the ratings page for 2,000 items (issue #6 target: < 20 MB, < 3 s in
headless Chromium). Uses 2,000 real photos from ../shared/data (OASIS + Emotion6) rated by the fast
colour baseline: the page's size is driven by the embedded thumbnails, not by the rater.

Usage: python bench/report_size.py [--data-root DIR] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from affectscope.norms import NormsError, load_norms
from affectscope.raters.registry import make_rater
from affectscope.report import write_ratings_page
from affectscope.run import rate
from affectscope.stimuli import StimulusSet

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "report_size.json"))
    args = ap.parse_args()
    try:
        paths = load_norms("oasis", args.data_root).data["path"].tolist() + load_norms("emotion6", args.data_root).data["path"].tolist()
    except NormsError as exc:
        sys.exit(f"this benchmark needs ../shared/data (or --data-root): {exc}")
    paths = paths[: args.n]
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        st = StimulusSet.from_list(paths, ids=[f"{i:04d}_{Path(p).name}" for i, p in enumerate(paths)])
        res = rate(st, make_rater("color"), store=Path(tmp) / "s.sqlite", progress=False)
        t0 = time.perf_counter()
        page = write_ratings_page(res.ratings, Path(tmp) / "report.html")
        write_s = time.perf_counter() - t0
        size_mb = page.stat().st_size / 1e6
        opens = []
        if exe:
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp}/profile", "--dump-dom", page.as_uri()],
                               capture_output=True, check=True, timeout=120)
                opens.append(time.perf_counter() - t0)
    out = {"n_items": len(paths), "size_mb": size_mb, "write_s": write_s,
           "open_s_median": statistics.median(opens) if opens else None, "open_s_runs": opens,
           "note": "open time = headless Chromium start + load + script run + DOM dump (upper bound on page opening)"}
    print(f"{len(paths)} items: page {size_mb:.1f} MB (written in {write_s:.1f} s); "
          f"headless Chromium load + DOM dump, median of 3: {out['open_s_median'] if opens else 'no chromium'} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
