"""Run a study: every rater on the same stimuli, each compared with the same humans, one table.

``Study.from_yaml("study.yaml").run("runs/study")`` (or ``affectscope study run study.yaml``)
writes into the output folder:

* ``raters/<name>.csv`` (+ its run store): each rater's ratings, resumable; an LLM's participants'
  answers beside them. A rerun recomputes nothing (finished items come from the stores, LLM answers
  from the response cache).
* ``results.csv`` and ``results.parquet``: the tidy results, one row per rater x level x scale x
  statistic (r and its CI, the noise ceiling and the share of it reached, category metrics, paired
  tests between raters, homogeneity, failures, refusals and tokens).
* ``study.lock.json``: what makes the study rerun identically: package versions, each rater's
  parameters, version and fingerprint, checksums of head files and protocols, the study file itself.
* ``report.html``: the papers' table, the figures, the paired tests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import platform
import sys
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectscope import __version__
from affectscope._files import atomic_write, atomic_write_text
from affectscope.compare import InSampleWarning, compare_categories, compare_items, compare_structure
from affectscope.compare.pairing import item_clusters, pair
from affectscope.backbones.weights import WEIGHTS
from affectscope.compare.paired import paired_difference
from affectscope.faces.ferplus_cnn import VARIANTS as FERPLUS_VARIANTS
from affectscope.faces.ferplus_cnn import shipped_weights
from affectscope.norms import load_norms
from affectscope.raters.registry import make_rater
from affectscope.ratings import Ratings
from affectscope.run.rate import rate
from affectscope.stimuli import StimulusSet, skipped_summary
from affectscope.study.spec import HumansSpec, StudyError, StudySpec, TableSpec, load_study, parse_study

#: Packages whose versions the lock file records.
LOCKED_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "onnxruntime", "POT", "openai", "pydantic",
                   "av", "opencv-python-headless", "Pillow")


@dataclass
class RaterRun:
    """One rater's part of a study: its ratings and what it cost."""

    name: str
    ratings: Ratings
    source: str  # "rated" or "imported"
    n_rated: int = 0
    n_resumed: int = 0
    n_failed: int = 0
    requests: int = 0
    lock: dict[str, Any] = field(default_factory=dict)
    participants: Path | None = None  # an LLM's per-participant answers (participants.csv)
    failure_line: str | None = None  # an LLM's failed participant-questions, in one line


@dataclass
class StudyResult:
    """What :meth:`Study.run` produced: the tidy results, the per-rater runs and comparisons, and
    where the files are."""

    results: pd.DataFrame
    runs: dict[str, RaterRun]
    comparisons: dict[str, dict[str, Any]]
    paired: pd.DataFrame
    out_dir: Path
    report: Path

    def table(self, statistic: str = "pearson") -> pd.DataFrame:
        """The papers' table: raters x scales, each cell ``r [lo, hi]`` (item level)."""
        return papers_table(self.results, statistic)


def _resolve(base: Path, p: str) -> str:
    return p if p.startswith("norms:") or Path(p).is_absolute() else str(base / p)


def _adjust(table: Ratings, spec: TableSpec, who: str) -> Ratings:
    if spec.rename:
        table = table.rename(spec.rename)
    for col, scale in spec.to_scale.items():
        if col not in table.columns:
            raise StudyError(f"{who}: to_scale names {col!r}, which the table does not have; its columns are {list(table.columns)}")
        table = table.convert(col, scale)
    return table


def _read_table(path: str, spec: TableSpec, data_root: str | None) -> Ratings:
    if path.startswith("norms:"):
        return load_norms(path.split(":", 1)[1], data_root)
    return Ratings.load(path, scales=spec.scales or None, categories=spec.categories, id_column=spec.id_column)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"affectscope": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in LOCKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _rater_lock(rater: Any) -> dict[str, Any]:
    """Parameters, version, fingerprint, and checksums of the files that fix its outputs."""
    info = rater.info().model_dump(mode="json")
    out: dict[str, Any] = {"rater": rater.name, "version": rater.version, "fingerprint": rater.fingerprint(),
                           "params": info["params"]}
    files: dict[str, str] = {}
    head_paths = getattr(rater, "_head_paths", None)
    if callable(head_paths):  # the image rater: its heads, and the pinned weights of the networks they read
        for p in head_paths():
            files[Path(p).name] = _sha256(Path(p))
        spec = rater._loaded[0][0].meta.get("backbone", {}).get("spec", "")
        for part in str(spec).split("+"):
            w = WEIGHTS.get(f"efficientnet-{part.split('@')[0]}")
            if w is not None:
                files[w.name] = w.sha256
    if rater.name == "face" and getattr(rater, "model", None) in FERPLUS_VARIANTS:
        files[f"{rater.model} weights"] = _sha256(shipped_weights(rater.model))
    protocol = getattr(rater, "_protocol", None)
    if protocol is not None and hasattr(protocol, "model_dump"):
        blob = json.dumps(protocol.model_dump(mode="json"), sort_keys=True, default=str).encode()
        files["protocol"] = hashlib.sha256(blob).hexdigest()
    if files:
        out["sha256"] = files
    return out


class Study:
    """A study from a validated :class:`~affectscope.study.spec.StudySpec` (see :mod:`affectscope.study`).

    Parameters
    ----------
    spec : StudySpec
    base : path
        Folder that relative paths of the study are read from (the study file's folder).
    text : str
        The study file as written (kept in the lock file).
    """

    def __init__(self, spec: StudySpec, base: str | Path = ".", text: str = "") -> None:
        self.spec = spec
        self.base = Path(base)
        self.text = text

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Study":
        """Read and validate a study file (errors name its lines)."""
        p = Path(path)
        return cls(load_study(p), p.resolve().parent, p.read_text(encoding="utf-8"))

    @classmethod
    def from_text(cls, text: str, base: str | Path = ".") -> "Study":
        return cls(parse_study(text), base, text)

    # ---- inputs ---------------------------------------------------------------------------------
    def humans(self) -> Ratings:
        h: HumansSpec = self.spec.humans
        try:
            table = _read_table(_resolve(self.base, h.table), h, self.spec.data_root)
        except (KeyError, ValueError, FileNotFoundError) as exc:
            raise StudyError(f"humans: {exc.args[0] if isinstance(exc, KeyError) else exc}") from None
        return _adjust(table, h, "humans")

    def stimuli(self, humans: Ratings) -> StimulusSet:
        s = self.spec.stimuli
        if s.from_humans:
            if "path" not in humans.data.columns:
                raise StudyError("stimuli: from_humans needs a 'path' column in the human table; give paths: or csv: instead")
            return StimulusSet.from_list(humans.data["path"].tolist(), ids=humans.item_ids)
        if s.csv is not None:
            return StimulusSet.from_csv(_resolve(self.base, s.csv), path_column=s.path_column, id_column=s.id_column)
        return StimulusSet.from_paths([_resolve(self.base, p) for p in s.paths])

    # ---- running ---------------------------------------------------------------------------------
    def build_raters(self) -> dict[str, Any]:
        """Every rater to be rated here, built and checked (names, parameters, their own checks)
        without rating anything; :class:`StudyError` names the first that cannot run."""
        built = {}
        for r in self.spec.raters:
            if r.rater is None:
                continue
            try:
                built[r.name] = make_rater(r.rater, **r.params)
                built[r.name].outputs()
            except (KeyError, TypeError, ValueError, FileNotFoundError) as exc:
                raise StudyError(f"rater {r.name!r}: {exc.args[0] if isinstance(exc, KeyError) else exc}") from None
        return built

    def run_raters(self, stimuli: StimulusSet, out_dir: Path, progress: bool | None = None,
                   raters: dict[str, Any] | None = None) -> dict[str, RaterRun]:
        """Rate (or import) with every rater; each rated one through its own resumable run store.
        ``raters``: those :meth:`build_raters` made (built here when not given)."""
        raters = self.build_raters() if raters is None else raters
        runs: dict[str, RaterRun] = {}
        folder = out_dir / "raters"
        folder.mkdir(parents=True, exist_ok=True)
        for r in self.spec.raters:
            if r.ratings is not None:
                path = _resolve(self.base, r.ratings)
                try:
                    table = _read_table(path, r, self.spec.data_root)
                except (KeyError, ValueError, FileNotFoundError) as exc:
                    raise StudyError(f"rater {r.name!r}: {exc}") from None
                lock = {"imported": r.ratings, **({"sha256": _sha256(Path(path))} if Path(path).is_file() else {})}
                runs[r.name] = RaterRun(r.name, _adjust(table, r, f"rater {r.name!r}"), "imported", lock=lock)
                continue
            rater = raters[r.name]
            if progress is not False:
                print(f"study: rating {len(stimuli)} stimuli with {r.name} ({r.rater})", file=sys.stderr)
            res = rate(stimuli, rater, store=folder / f"{r.name}.store.sqlite", progress=progress)
            res.ratings.save(folder / f"{r.name}.csv")
            details = getattr(rater, "write_details", None)
            participants = details(stimuli, folder / f"{r.name}.csv") if callable(details) else None
            usage = getattr(rater, "usage", None)  # LLM raters: requests sent over the wire by this run
            requests = int(usage.get("requests", 0)) if isinstance(usage, dict) else 0
            failures = getattr(rater, "failure_summary", None)
            runs[r.name] = RaterRun(r.name, _adjust(res.ratings, r, f"rater {r.name!r}"), "rated", res.n_rated, res.n_resumed,
                                    res.n_failed, requests, _rater_lock(rater), participants,
                                    failures() if callable(failures) else None)
        return runs

    def run(self, out_dir: str | Path = "runs/study", *, progress: bool | None = None) -> StudyResult:
        """Run the whole study into ``out_dir`` (see the module docstring); returns the results."""
        from affectscope.study.report import write_study_report

        out = Path(out_dir)
        raters = self.build_raters()  # every rater's name and parameters, before hours of rating by the first ones
        out.mkdir(parents=True, exist_ok=True)
        humans = self.humans()
        stimuli = self.stimuli(humans)
        if stimuli.skipped:  # folder entries that are not stimuli: said, and counted in the results
            print(f"study: {skipped_summary(stimuli.skipped)}", file=sys.stderr)
        runs = self.run_raters(stimuli, out, progress, raters)
        comparisons, rows = self.compare(runs, humans)
        rows.append(("stimuli", "stimuli", "", "n_skipped_entries", float(len(stimuli.skipped))))
        paired = self.paired(runs, humans) if self.spec.compare.paired and len(runs) > 1 else pd.DataFrame()
        rows += _paired_rows(paired)
        rows += _cost_rows(runs)
        results = pd.DataFrame(rows, columns=["rater", "level", "scale", "statistic", "value"])
        atomic_write(out / "results.csv", lambda p: results.to_csv(p, index=False))
        atomic_write(out / "results.parquet", lambda p: results.to_parquet(p, index=False), suffix=".parquet")
        lock = {"study": self.spec.title, "study_file": self.text, "study_sha256": hashlib.sha256(self.text.encode()).hexdigest(),
                "versions": _versions(), "humans": self.spec.humans.table, "n_stimuli": len(stimuli),
                "raters": {name: run.lock for name, run in runs.items()}}
        atomic_write_text(out / "study.lock.json", json.dumps(lock, indent=2, default=str))
        report = write_study_report(out / "report.html", self.spec.title, results, runs, comparisons, paired, humans)
        return StudyResult(results, runs, comparisons, paired, out, report)

    # ---- comparing -------------------------------------------------------------------------------
    def compare(self, runs: dict[str, RaterRun], humans: Ratings) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
        """Each rater against the humans at the study's levels: the comparisons and their tidy rows.
        Caveats (items in a rater's training data ...) go to each comparison's notes, which the
        report lists, instead of warnings."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InSampleWarning)
            return self._compare(runs, humans)

    def _compare(self, runs: dict[str, RaterRun], humans: Ratings) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
        c = self.spec.compare
        comparisons: dict[str, dict[str, Any]] = {}
        rows: list[tuple] = []
        for name, run in runs.items():
            got: dict[str, Any] = {}
            ok = run.ratings  # error rows stay: the comparisons count them as rater_failed
            if "items" in c.levels and ok.columns_of("scale") and humans.columns_of("scale") and \
                    set(ok.columns_of("scale")) & set(humans.columns_of("scale")):
                res = compare_items(ok, humans, key=c.key, on_missing="drop", n_boot=c.n_boot, groups=c.groups,
                                    random_state=c.random_state, ci_method=c.ci_method)
                got["items"] = res
                rows += _dropped_rows(name, "items", res.dropped)
                for scale, row in res.table.iterrows():
                    for stat in ("n", "pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo", "spearman_hi", "ccc",
                                 "mae", "ceiling", "r_over_ceiling", "n_clusters"):
                        rows.append((name, "items", scale, stat, _num(row.get(stat))))
                rows += _homogeneity_rows(name, ok, humans, res, c.key)
                if run.participants is not None:
                    rows += _reliability_rows(name, run.participants, list(res.table.index))
            if "categories" in c.levels and ok.columns_of("category") and humans.columns_of("category"):
                try:
                    cat = compare_categories(ok, humans, key=c.key, on_missing="drop")
                except ValueError as exc:  # e.g. different category sets without a crosswalk: said, not fatal
                    got["categories_error"] = str(exc)
                else:
                    got["categories"] = cat
                    rows += _dropped_rows(name, "categories", cat.dropped)
                    for stat, v in cat.metrics.items():
                        if isinstance(v, int | float | np.floating):
                            rows.append((name, "categories", "", stat, float(v)))
            if "structure" in c.levels:
                st = compare_structure(ok, humans, key=c.key, on_missing="drop", n_null=c.n_null, gw=c.n_null > 0,
                                       groups=c.groups, n_perm=1000)
                got["structure"] = st
                for stat, v in st.to_dict().get("rsa", {}).items():
                    if isinstance(v, int | float):
                        rows.append((name, "structure", "", f"rsa_{stat}", float(v)))
                if st.gw is not None:  # GW item and category matching rates, with their shuffled null
                    for stat, v in st.gw.matching.items():
                        rows.append((name, "structure", "", f"gw_{stat}", float(v)))
                    for stat, d in st.gw.null.items():
                        rows += [(name, "structure", "", f"gw_{stat}_null_mean", float(d["mean"])),
                                 (name, "structure", "", f"gw_{stat}_p", float(d["p"]))]
            comparisons[name] = got
        if "structure" in c.levels:
            matrix = self.structure_matrix(runs, humans)
            if matrix is not None:
                comparisons["_structure_matrix"] = {"matrix": matrix}
                for a, b in itertools.combinations(matrix.index, 2):
                    rows.append((f"{a} vs {b}", "structure", "", "rdm_spearman", float(matrix.loc[a, b])))
        return comparisons, rows

    def structure_matrix(self, runs: dict[str, RaterRun], humans: Ratings) -> pd.DataFrame | None:
        """Spearman correlation between the RDMs of every two raters and the humans, over the items
        all of them rated and the scales all of them share (euclidean distances of the items'
        scale patterns, each scale z-scored): is one rater's structure closer to another rater's
        than to the humans'? None when fewer than two raters share a scale and 3 items with the humans."""
        from scipy.stats import spearmanr

        from affectscope.compare.rsa import rdm

        scales = [s for s in humans.columns_of("scale") if all(s in r.ratings.columns for r in runs.values())]
        if not scales or len(runs) < 2:
            return None
        frames = {n: r.ratings.ok().data[scales] for n, r in runs.items()}
        frames["humans"] = humans.data[scales]
        shared = sorted(set.intersection(*(set(f.dropna().index) for f in frames.values())))
        if len(shared) < 3:
            return None
        vectors = {}
        for n, f in frames.items():
            x = f.loc[shared].to_numpy(float)
            x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
            vectors[n] = rdm(x, metric="euclidean", item_ids=shared).vector
        names = list(vectors)
        m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for a, b in itertools.combinations(names, 2):
            m.loc[a, b] = m.loc[b, a] = float(spearmanr(vectors[a], vectors[b])[0])
        return m

    def paired(self, runs: dict[str, RaterRun], humans: Ratings) -> pd.DataFrame:
        """Every pair of raters on every scale both rated: r(A, H) - r(B, H) on the items all three share."""
        c = self.spec.compare
        out = []
        rng = np.random.default_rng(c.random_state)
        pairs = {n: pair(r.ratings.ok(), humans, key=c.key, on_missing="drop") for n, r in runs.items()}
        for (na, ra), (nb, rb) in itertools.combinations(runs.items(), 2):
            scales = [s for s in ra.ratings.columns_of("scale") if s in rb.ratings.columns_of("scale") and s in humans.columns_of("scale")]
            pa, pb = pairs[na], pairs[nb]
            for s in scales:
                a = pa.left.values(s).set_axis(pa.right.item_ids)
                b = pb.left.values(s).set_axis(pb.right.item_ids)
                h = humans.values(s)
                both = pd.concat({"a": a, "b": b, "h": h}, axis=1, join="inner").dropna()
                if len(both) < 4:
                    continue
                sub = humans.subset(list(both.index))
                clusters, _ = item_clusters(pair(sub, sub, key="item_id", on_missing="drop"), c.groups)
                groups = [clusters[i] for i in both.index] if clusters is not None else None
                d = paired_difference(both["a"].to_numpy(), both["b"].to_numpy(), both["h"].to_numpy(), n_boot=c.n_boot,
                                      rng=rng, groups=groups)
                out.append({"scale": s, "rater_a": na, "rater_b": nb, **d.to_dict()})
        return pd.DataFrame(out)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def sd_shares(rater: Ratings, humans: Ratings, scale: str, key: str = "item_id") -> tuple[np.ndarray, np.ndarray] | None:
    """Per shared item, the SD of ``scale`` across the rater's participants and across human raters,
    each as a share of its own scale's range (``(rater, humans)``, NaN where an SD is missing); None
    unless both tables carry ``<scale>_sd`` and bounded scales."""
    sd = f"{scale}_sd"
    if sd not in rater.columns or sd not in humans.columns:
        return None
    rs, hs = rater.columns[scale].scale, humans.columns[scale].scale
    if rs is None or hs is None or rs.high is None or hs.high is None:
        return None
    p = pair(rater, humans, key=key, on_missing="drop")
    return p.left.values(sd).to_numpy(float) / (rs.high - rs.low), p.right.values(sd).to_numpy(float) / (hs.high - hs.low)


def _homogeneity_rows(name: str, rater: Ratings, humans: Ratings, res: Any, key: str) -> list[tuple]:
    """Per scale, where both tables carry ``<scale>_sd``: the mean SD across the rater's participants
    and across human raters, each as a share of its scale's range, and their ratio (Ogg et al.'s
    homogeneity: below 1, the rater's participants agree more with each other than people do)."""
    rows: list[tuple] = []
    for scale in res.table.index:
        shares = sd_shares(rater, humans, scale, key)
        if shares is None:
            continue
        r_sd, h_sd = shares
        keep = np.isfinite(r_sd) & np.isfinite(h_sd)
        if keep.sum() < 3:
            continue
        rows += [(name, "homogeneity", scale, "rater_sd_share", float(r_sd[keep].mean())),
                 (name, "homogeneity", scale, "human_sd_share", float(h_sd[keep].mean())),
                 (name, "homogeneity", scale, "sd_ratio", float(r_sd[keep].mean() / h_sd[keep].mean())),
                 (name, "homogeneity", scale, "n", float(keep.sum()))]
    return rows


def split_half(answers: pd.DataFrame, column: str) -> tuple[float, int]:
    """Split-half reliability of one rater's participants on ``column``: the participants split
    into two halves (even and odd numbers), each item's mean per half, Pearson r between the halves
    over items, stepped up with Spearman-Brown (``2r / (1 + r)``) to all participants; and the
    number of items. ``answers``: one row per participant answer (``item_id``, ``participant``,
    ``status``, the column), as an LLM rater's ``participants.csv``."""
    a = answers[(answers["status"] == "answer")]
    values = pd.to_numeric(a[column], errors="coerce")
    half = a["participant"].astype(int) % 2
    means = pd.DataFrame({"item": a["item_id"].astype(str), "half": half, "v": values}).dropna()
    wide = means.groupby(["item", "half"])["v"].mean().unstack()
    if wide.shape[1] < 2:
        return float("nan"), 0
    wide = wide.dropna()
    if len(wide) < 3 or wide[0].std() == 0 or wide[1].std() == 0:
        return float("nan"), len(wide)
    r = float(np.corrcoef(wide[0], wide[1])[0, 1])
    return 2 * r / (1 + r), len(wide)


def _reliability_rows(name: str, participants_csv: Path, scales: list[str]) -> list[tuple]:
    answers = pd.read_csv(participants_csv)
    rows = []
    for scale in scales:
        if scale in answers.columns:
            rel, n = split_half(answers, scale)
            if n:
                rows += [(name, "reliability", scale, "split_half", rel), (name, "reliability", scale, "n", float(n))]
    return rows


def _dropped_rows(name: str, level: str, dropped: dict[str, list[str]]) -> list[tuple]:
    """Items a comparison left out, counted by why (``only_humans``: normed but not rated;
    ``rater_failed``; ``nan_<scale>`` ...): ``dropped_<why>`` rows."""
    return [(name, level, "", f"dropped_{why}", float(len(ids))) for why, ids in dropped.items() if ids]


def _paired_rows(paired: pd.DataFrame) -> list[tuple]:
    rows = []
    for _, r in paired.iterrows():
        for stat in ("n", "delta", "delta_lo", "delta_hi", "p_bootstrap", "williams_t", "williams_p"):
            rows.append((f"{r['rater_a']} vs {r['rater_b']}", "paired", r["scale"], stat, float(r[stat])))
    return rows


def _cost_rows(runs: dict[str, RaterRun]) -> list[tuple]:
    rows = []
    for name, run in runs.items():
        d = run.ratings.data
        rows += [(name, "run", "", "n_items", float(len(d))), (name, "run", "", "n_failed", float(len(run.ratings.errors))),
                 (name, "run", "", "n_rated_now", float(run.n_rated)), (name, "run", "", "n_resumed", float(run.n_resumed)),
                 (name, "run", "", "requests_now", float(run.requests))]
        for col in ("n_refusals", "n_failures", "tokens"):
            if col in d.columns:
                rows.append((name, "run", "", col, float(pd.to_numeric(d[col], errors="coerce").sum())))
    return rows


def papers_table(results: pd.DataFrame, statistic: str = "pearson") -> pd.DataFrame:
    """Raters x scales, each cell ``"r [lo, hi]"`` with the share of the noise ceiling where known."""
    items = results[results["level"] == "items"]
    cells: dict[tuple[str, str], str] = {}
    n_max = items[items["statistic"] == "n"].groupby("scale")["value"].max()
    for (rater, scale), g in items.groupby(["rater", "scale"], sort=False):
        v = dict(zip(g["statistic"], g["value"], strict=True))
        cell = f"{v.get(statistic, np.nan):.2f} [{v.get(statistic + '_lo', np.nan):.2f}, {v.get(statistic + '_hi', np.nan):.2f}]"
        if statistic == "pearson" and np.isfinite(v.get("ceiling", np.nan)):
            cell += f" ({100 * v['r_over_ceiling']:.0f} % of {v['ceiling']:.2f})"
        if v.get("n", 0) < n_max.get(scale, 0):  # fewer items than the other raters: say so in the cell
            cell += f", n = {int(v['n'])}"
        cells[(rater, scale)] = cell
    if not cells:
        return pd.DataFrame()
    raters = list(dict.fromkeys(r for r, _ in cells))
    scales = list(dict.fromkeys(s for _, s in cells))
    return pd.DataFrame([[cells.get((r, s), "") for s in scales] for r in raters], index=pd.Index(raters, name="rater"),
                        columns=scales)
