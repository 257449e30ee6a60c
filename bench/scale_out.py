"""Scaling out on Ray (issue #34), in one run on one machine.

Prints a table and writes bench/results/scale_out.json:

1. throughput of the default image rater on OASIS pictures: the local engine, Ray with 1 worker
   (given every CPU) and Ray with N workers (one CPU each), each through ``rate()`` into a fresh run
   store, the Ray runtime already up (the actors' start, which loads the networks, is counted);
2. Ray's overhead per batch: the ``color`` rater (microseconds of work per item) on small pictures,
   local against Ray with one worker: (Ray's seconds - local seconds) / batches;
3. the driver's peak memory (VmHWM of the driver process, a fresh process per run) rating 2,000
   and 8,000 small pictures with the ``color`` rater on Ray, and locally for reference.

Needs ../shared/data (OASIS pictures) and the Ray extra. Usage:
    python bench/scale_out.py [--pictures 600] [--workers 1 2] [--small 2000 8000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "scale_out.json"

MEMORY_RUN = """
import sys, time
from affectscope.raters.registry import make_rater
from affectscope.run.rate import rate
from affectscope.run.ray_engine import RayOptions
from affectscope.stimuli import StimulusSet
folder, engine, store = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
opts = RayOptions(workers=2, worker_cpus=1) if engine == "ray" else None
res = rate(StimulusSet.from_paths([folder]), make_rater("color"), store=store, progress=False, engine=engine, ray_options=opts)
# VmHWM: this process's own peak RSS (ru_maxrss would carry over the parent's from before the exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(res.n_rated, time.perf_counter() - t, hwm)
"""


def small_pictures(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"s{k:05d}.png")
    return folder


def main() -> None:
    from affectscope.norms._common import data_root as find_data_root
    from affectscope.raters.registry import make_rater
    from affectscope.run.rate import rate
    from affectscope.run.ray_engine import RayOptions
    from affectscope.stimuli import StimulusSet

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--pictures", type=int, default=600)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts to time (default: 1 2)")
    ap.add_argument("--small", type=int, nargs="+", default=[2000, 8000], help="item counts for the driver-memory runs")
    args = ap.parse_args()
    import ray

    cpus = os.cpu_count() or 1
    root = find_data_root(args.data_root)
    oasis = sorted((root / "oasis" / "images").glob("*.jpg"))[: args.pictures]
    if not oasis:
        sys.exit(f"no OASIS pictures under {root / 'oasis' / 'images'}: give --data-root")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=False)
    out: dict = {"cpus": cpus, "throughput": [], "pictures": len(oasis)}
    pictures = StimulusSet.from_list([str(p) for p in oasis])
    rater = make_rater("image")
    rate(StimulusSet(list(pictures)[:2]), rater, progress=False)  # networks exported and cached before any timing
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        rate(pictures, rater, store=Path(tmp) / "local.sqlite", progress=False)
        local = len(pictures) / (time.perf_counter() - t)
        out["throughput"].append({"engine": "local", "workers": 0, "pictures_per_s": local, "of_local": 1.0})
        for w in args.workers:
            opts = RayOptions(workers=w, worker_cpus=max(1.0, cpus / w) if w <= cpus else 1.0)
            t = time.perf_counter()
            rate(pictures, rater, store=Path(tmp) / f"ray{w}.sqlite", progress=False, engine="ray", ray_options=opts)
            per_s = len(pictures) / (time.perf_counter() - t)
            out["throughput"].append({"engine": "ray", "workers": w, "worker_cpus": opts.worker_cpus,
                                      "pictures_per_s": per_s, "of_local": per_s / local})
        small = small_pictures(Path(tmp) / "small", max(args.small))
        few = StimulusSet(list(StimulusSet.from_paths([small]))[:2000])
        color = make_rater("color")
        t = time.perf_counter()
        rate(few, color, store=Path(tmp) / "c_local.sqlite", progress=False)
        local_s = time.perf_counter() - t
        t = time.perf_counter()
        rate(few, color, store=Path(tmp) / "c_ray.sqlite", progress=False, engine="ray", ray_options=RayOptions(workers=1, worker_cpus=1))
        ray_s = time.perf_counter() - t
        batches = -(-len(few) // color.batch_size)
        out["overhead"] = {"items": len(few), "batch_size": color.batch_size, "batches": batches, "local_s": local_s,
                           "ray_s": ray_s, "ms_per_batch": 1000 * (ray_s - local_s) / batches}
        ray.shutdown()
        out["driver_memory"] = []
        for n in args.small:
            sub = Path(tmp) / f"mem{n}"
            sub.mkdir()
            for p in sorted(small.iterdir())[:n]:
                os.symlink(p, sub / p.name)
            for engine in ("local", "ray"):
                proc = subprocess.run([sys.executable, "-c", MEMORY_RUN, str(sub), engine, str(Path(tmp) / f"m{n}{engine}.sqlite")],
                                      capture_output=True, text=True, timeout=1800)
                if proc.returncode != 0:
                    sys.exit(proc.stderr[-2000:])
                rated, seconds, rss_kb = proc.stdout.split()[-3:]
                out["driver_memory"].append({"items": n, "engine": engine, "seconds": float(seconds), "peak_rss_mb": int(rss_kb) / 1024})
    print(f"{'image rater, ' + str(len(oasis)) + ' OASIS pictures':34s} {'pictures/s':>10s} {'of local':>8s}")
    for r in out["throughput"]:
        name = "local engine" if r["engine"] == "local" else f"Ray, {r['workers']} worker(s) x {r['worker_cpus']:g} CPU"
        print(f"{name:34s} {r['pictures_per_s']:10.2f} {r['of_local']:8.2f}")
    o = out["overhead"]
    print(f"\nRay's overhead: {o['ms_per_batch']:.1f} ms per batch of {o['batch_size']} ({o['items']} color-rated small pictures: "
          f"{o['local_s']:.1f} s local, {o['ray_s']:.1f} s on Ray with 1 worker, actor start included)")
    print(f"\n{'driver peak memory':20s} {'items':>6s} {'MB':>7s} {'seconds':>8s}")
    for r in out["driver_memory"]:
        print(f"{r['engine']:20s} {r['items']:6d} {r['peak_rss_mb']:7.0f} {r['seconds']:8.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
