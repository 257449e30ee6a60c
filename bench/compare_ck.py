"""Real-data bench of the comparison module on Cowen & Keltner (2017) human ratings.

The analysis design of Asanuma et al. (2025, arXiv 2505.12746) applied to humans only: the RDM
of the 34 category shares against the RDM of the 14 dimensions and against the RDM of the 600
free-response terms; RSA (Spearman, permutation p) and GW alignment (item and category matching,
category = the video's top category, shuffled null), for the top 100 / 250 most category-typical
videos and for all 2185. Also times the epsilon search: annealing with warm starts vs a
GWTune-style Optuna TPE baseline (20 independent solves) on the same inputs and range.

Needs ../shared/data (or --data-root / $AFFECTSCOPE_DATA) and the test extras (optuna).

    python bench/compare_ck.py --subsets 100 250                # about 20 minutes on 2 cores
    python bench/compare_ck.py --subsets all --n-null 3 --speed-n 2185   # hours on 2 cores
    python bench/compare_ck.py --subsets all --n-null 3 --speed-n 2185 --device cuda   # on a GPU

With ``--device cuda`` every POT solve (all searches, the baseline's too) runs through POT's torch
backend on the GPU in float64, so the speed-up is still measured on one machine in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path


from affectscope.compare import compare_structure, most_typical, rdm, top_category
from affectscope.compare.gw import SEARCHES, SearchSettings, _normalised, search_anneal, search_boundary, search_optuna
from affectscope.norms import NormsError, load_cowen_keltner
from affectscope.norms.cowen_keltner import DIMENSIONS, TERM_PREFIX
from affectscope.taxonomy import CK34


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--subsets", nargs="*", default=["100", "250"], help="top-N subsets and/or 'all' (none: timing only)")
    ap.add_argument("--n-perm", type=int, default=1000)
    ap.add_argument("--n-null", type=int, default=10)
    ap.add_argument("--speed-n", type=int, default=500, help="items for the epsilon-search timing (0 skips)")
    ap.add_argument("--search", default="auto", choices=["auto", "anneal", "boundary", "optuna"],
                    help="epsilon search of the subset alignments (default: auto, the library default)")
    ap.add_argument("--searches", nargs="+", default=["auto", "path", "boundary", "anneal", "optuna"],
                    help="epsilon searches to time (optuna is the baseline and always runs last)")
    ap.add_argument("--gw-max-n", type=int, default=2185, help="skip GW (RSA only) for subsets larger than this")
    ap.add_argument("--eps-range", type=float, nargs=2, default=(1e-3, 1e-1), metavar=("LO", "HI"),
                    help="epsilon range of the subset alignments (default: 1e-3 1e-1, the library default)")
    ap.add_argument("--pairs", nargs="+", default=["dims", "terms"], choices=["dims", "terms"],
                    help="which RDM pairs to compare with the categories (default: both)")
    ap.add_argument("--device", default=None, help="torch device for the GW solves, e.g. cuda (default: numpy on the CPU)")
    ap.add_argument("--out", default="bench/results/compare_ck.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    try:
        h = load_cowen_keltner(args.data_root)
    except NormsError as exc:
        print(f"bench needs the Cowen & Keltner ratings: {exc}", file=sys.stderr)
        return 2
    terms = [c for c in h.columns if c.startswith(TERM_PREFIX)]
    # videos nobody described with any listed term have no term pattern: they cannot enter the term RDM
    no_terms = h.data[terms].sum(axis=1) == 0
    results: dict = {"source": "Cowen & Keltner (2017) human ratings", "excluded_no_terms": int(no_terms.sum()), "rows": [],
                     "device": _describe(args.device)}
    print(f"GW solves on: {results['device']}")
    print(f"{'subset':>7s} {'pair':18s} {'n':>5s} {'RSA rho':>8s} {'p':>7s} {'item top1':>9s} {'null 95%':>15s} "
          f"{'cat top1':>8s} {'null 95%':>15s} {'eps':>7s} {'s':>6s}")
    for sub in args.subsets:
        ids = h.item_ids if sub == "all" else most_typical(h, CK34.name, int(sub))
        ids = [i for i in ids if not no_terms[i]]
        r = h.subset(ids)
        cats = top_category(r, CK34.name)
        a = rdm(r, columns=list(CK34.columns))
        for name, cols in (("categories~dims", list(DIMENSIONS)), ("categories~terms", terms)):
            if name.split("~")[1] not in args.pairs:
                continue
            b = rdm(r, columns=cols)
            t = time.perf_counter()
            do_gw = len(ids) <= args.gw_max_n
            res = compare_structure(a, b, n_perm=args.n_perm, categories=cats, n_null=args.n_null, procrustes=False, gw=do_gw,
                                    search=args.search, device=args.device, eps_range=tuple(args.eps_range))
            row = {"subset": sub, "pair": name, "n": len(ids), "search": args.search, "eps_range": list(args.eps_range), "rsa_spearman": res.rsa["statistic"], "p": res.rsa["p_value"]}
            line = f"{sub:>7s} {name:18s} {len(ids):5d} {row['rsa_spearman']:8.3f} {row['p']:7.4f} "
            g = res.gw
            if g is not None:
                row.update({**{f"gw_{k}": v for k, v in g.matching.items()}, "null": g.null, "epsilon": g.epsilon, "gw_value": g.value})
                ni, nc = g.null["item_top1"], g.null["category_top1"]
                line += (f"{g.matching['item_top1']:9.3f} [{ni['lo']:.3f},{ni['hi']:.3f}] {g.matching['category_top1']:8.3f} "
                         f"[{nc['lo']:.3f},{nc['hi']:.3f}] {g.epsilon:7.3g} ")
            else:
                line += f"{'(GW skipped: n > --gw-max-n)':>59s} "
            row["seconds"] = time.perf_counter() - t
            results["rows"].append(row)
            _save(results, args.out)
            print(line + f"{row['seconds']:6.1f}", flush=True)
    if args.speed_n:
        ids = [i for i in most_typical(h, CK34.name, args.speed_n) if not no_terms[i]]
        r = h.subset(ids)
        c1 = _normalised(rdm(r, columns=list(CK34.columns)))
        c2 = _normalised(rdm(r, columns=list(DIMENSIONS)))
        rng = (1e-3, 1e-1)
        dev = args.device
        # one run, same inputs and range; every plan projected onto exact marginals before scoring
        timed: dict = {}
        for name, search in (
            ("auto", lambda: SEARCHES["auto"](c1, c2, SearchSettings(rng, 8, 16, 20, 1000, 0, dev))),
            ("path", lambda: search_anneal(c1, c2, rng, n_steps=8, max_iter=1000, polish=False, device=dev)),
            ("boundary", lambda: search_boundary(c1, c2, rng, 16, 1000, device=dev)),
            ("anneal", lambda: search_anneal(c1, c2, rng, n_steps=8, max_iter=1000, polish=True, device=dev)),
            ("optuna", lambda: search_optuna(c1, c2, rng, n_trials=20, max_iter=1000, seed=0, device=dev)),
        ):
            if name not in set(args.searches) | {"optuna"}:
                continue
            t = time.perf_counter()
            trials = search()
            timed[name] = (time.perf_counter() - t, trials)
            print(f"  {name}: {timed[name][0]:.1f} s", flush=True)
            # partial results survive a run cut short (a device time limit, say)
            results["speed_partial"] = {k: {"seconds": sec, "trials": [t.to_dict() for t in tr]}
                                        for k, (sec, tr) in timed.items()}
            _save(results, args.out)

        def best(trials: list) -> float:
            return min(x.value for x in trials if not x.failed)

        def log(trials: list) -> list:
            return [x.to_dict() for x in trials]

        t_opt = timed["optuna"][0]
        labels = {"auto": "auto = annealed path + boundary (default)", "path": "annealed path alone (8 warm-started steps)",
                  "boundary": "boundary alone (ascending cold solves)", "anneal": "annealed path + converged polish",
                  "optuna": "Optuna TPE, 20 cold POT solves (baseline)"}
        speed = {"n": len(ids), "eps_range": rng,
                 "searches": {k: {"label": labels[k], "seconds": sec, "best_value": best(tr), "speedup": t_opt / sec,
                                  "trials": log(tr)} for k, (sec, tr) in timed.items()}}
        results["speed"] = speed
        print(f"\nepsilon search at n={len(ids)} (objective of plans projected onto exact marginals):")
        print(f"{'search':44s} {'seconds':>8s} {'objective':>10s} {'speed-up':>9s}")
        for k, (sec, tr) in timed.items():
            print(f"{labels[k]:44s} {sec:8.1f} {best(tr):10.5f} {t_opt / sec:8.1f}x")
    results.pop("speed_partial", None)
    print(f"results: {_save(results, args.out)}")
    return 0


def _save(results: dict, out: str) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=float))
    return path.resolve()


def _describe(device: str | None) -> str:
    """The machine the numbers come from: the GPU's name, or the CPU count."""
    import os

    if device and device != "cpu":
        import torch

        from affectscope.compare.gw import resolve_device

        dev = resolve_device(device)
        return f"{torch.cuda.get_device_name(dev) if dev.type == 'cuda' else dev} (torch {torch.__version__}, float64)"
    return f"numpy on {os.cpu_count()} CPU cores"


if __name__ == "__main__":
    sys.exit(main())
