"""Size and opening time of the report for 2,000 items (issue #6 target: < 20 MB, < 3 s in
headless Chromium). Uses 2,000 real photos from ../shared/data (OASIS + Emotion6) rated by the fast
colour baseline: the page's size is driven by the embedded thumbnails, not by the rater.

Three timings, medians of 3: the wall time of headless Chromium loading the page and dumping its
DOM, the same for a blank page (Chromium's own start-up), and the page's load event
(``performance.now()`` at ``load``, logged to the console by a line added to a copy of the page).

Usage: python bench/report_size.py [--data-root DIR] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from affectscope.norms import NormsError, load_norms
from affectscope.raters.registry import make_rater
from affectscope.report import write_report
from affectscope.run.rate import rate
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
        page = write_report(res.ratings, Path(tmp) / "report.html")
        write_s = time.perf_counter() - t0
        size_mb = page.stat().st_size / 1e6
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!DOCTYPE html><html><body>x</body></html>")
        probe = Path(tmp) / "probe.html"
        probe.write_text(page.read_text().replace(
            "</body>", "<script>window.addEventListener('load',function(){console.log('LOADMS '+performance.now())})</script></body>"))
        opens, blanks, loads = [], [], []
        if exe:
            for _ in range(3):
                for target, sink in ((page, opens), (blank, blanks)):
                    t0 = time.perf_counter()
                    subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp}/profile", "--dump-dom", target.as_uri()],
                                   capture_output=True, check=True, timeout=120)
                    sink.append(time.perf_counter() - t0)
                proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp}/profile", "--enable-logging=stderr", "--v=0",
                                       "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
                found = re.findall(r"LOADMS ([0-9.]+)", proc.stderr)
                if found:
                    loads.append(float(found[0]) / 1000)
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    out = {"n_items": len(paths), "size_mb": size_mb, "write_s": write_s,
           "open_s_median": med(opens), "blank_s_median": med(blanks), "load_event_s_median": med(loads),
           "open_s_runs": opens, "blank_s_runs": blanks, "load_event_s_runs": loads,
           "note": "open = Chromium start + load + DOM dump; blank = the same for an empty page; load event = performance.now() at load"}
    print(f"{len(paths)} items: report {size_mb:.1f} MB (written in {write_s:.1f} s); medians of 3: "
          f"Chromium load + DOM dump {out['open_s_median']} s, blank page {out['blank_s_median']} s, "
          f"page load event {out['load_event_s_median']} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
