"""What every command shares: exit codes, the usage error, ``--param`` and declaration parsing,
the parent parsers of the table options, table loading and the rating run."""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
DEFAULT_RATER = "image"


class UsageError(Exception):
    """A problem with what the user asked for; reported without a traceback, exit code 2."""


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` pairs as keyword parameters (values read as JSON where they parse)."""
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


def store_path(out: Path, store: str | None) -> Path:
    return Path(store) if store else out.with_name(out.name + ".store.sqlite")


def print_errors(ratings: Any, limit: int = 10) -> None:
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


def run_rating(stimuli: Any, rater_name: str, params: dict[str, Any], out: Path, store: str | None,
                fresh: bool, retry_errors: bool, report: Path | None, quiet: bool, title: str,
                to_categories: str | None = None, engine: str = "local", ray_options: Any = None) -> int:
    """Rate ``stimuli`` with the rater ``rater_name`` into ``out`` through its resumable run store,
    print what happened (counts, summary, failures) and return the exit code (3 when any item
    failed, warned or is incomplete)."""
    from affectscope.raters.registry import UnknownRaterError, make_rater
    from affectscope.ratings import RatingsError
    from affectscope.run.rate import rate
    from affectscope.raters.base import RaterUnavailable
    from affectscope.run.store import StoreLockedError, StoreMismatchError
    from affectscope._ray import EngineUnavailable

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

    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread() else None
    try:
        result = rate(stimuli, rater, store=store_path(out, store), fresh=fresh, retry_errors=retry_errors,
                      progress=None if not quiet else False, engine=engine, ray_options=ray_options)
    except (StoreMismatchError, StoreLockedError, RaterUnavailable, EngineUnavailable) as exc:
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
        + f", in {result.seconds:.1f} s" + (" on Ray" if result.engine == "ray" else "")
    )
    for note in result.notes:
        print(f"affectscope rate: {note}", file=sys.stderr)
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
    print_errors(result.ratings)
    failures = getattr(rater, "failure_summary", None)
    line = failures() if callable(failures) else None
    if line:
        print(line, file=sys.stderr)
    flagged = result.n_failed or result.n_warned or result.n_incomplete or line
    return EXIT_PARTIAL if flagged else EXIT_OK


def main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def convert(table: Any, to_scale: Sequence[str], side: str | None = "human") -> Any:
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


def declarations(args: argparse.Namespace, sided: bool = True) -> dict[str, dict[str, Any]]:
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


def load_table(spec: str, data_root: str | None, declared: dict[str, Any] | None = None) -> Any:
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


def table_options(*, sided: bool, what: str = "human", drop_missing: bool = True) -> argparse.ArgumentParser:
    """The parent parser of the options that read ratings tables (``compare``, ``report``, ``train``):
    ``--key``, ``--to-scale``, ``--data-root``, the declarations of plain files (``--scale``,
    ``--categories``, ``--id-column``, ``--rename``; with ``sided``, each may be prefixed ``rater:`` or
    ``human:``) and, with ``drop_missing``, ``--drop-missing``. ``what`` names the table that
    ``--to-scale`` converts."""
    parser = argparse.ArgumentParser(add_help=False)
    g = parser.add_argument_group("tables")
    g.add_argument("--key", default="item_id", choices=["item_id", "name", "stem"],
                   help="how item ids are matched between tables: the id itself, the file name, or the name without extension")
    if drop_missing:
        g.add_argument("--drop-missing", action="store_true", help="compare shared items only, reporting what was left out")
    g.add_argument("--to-scale", action="append", default=[], metavar="COLUMN=SCALE",
                   help=f"convert a {what} column explicitly first, e.g. valence=valence:sam9 (repeatable)")
    g.add_argument("--data-root", default=None,
                   help="folder of the norm sets for norms:NAME (default: $AFFECTSCOPE_DATA, or ../shared/data beside the checkout)")
    where = " (prefix rater: or human: for one file only)" if sided else ""
    g.add_argument("--scale", action="append", default=[], metavar="COLUMN=SCALE",
                   help=f"plain CSV/Parquet files without .meta.json: read COLUMN as a rating on SCALE, e.g. "
                        f"valence=valence:1-7{where} (repeatable; `affectscope taxonomy` lists scales)")
    g.add_argument("--categories", action="append", default=[], metavar="TAXONOMY",
                   help=f"plain files: read the columns named after this category set's categories as shares "
                        f"(0-1), e.g. emotion6{where}")
    g.add_argument("--id-column", action="append", default=[], metavar="NAME",
                   help=f"plain files: the item id column (default: item_id){where}")
    g.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                   help=f"rename a rating column after reading (--scale names the file's column), so that it "
                        f"meets the other table's column, e.g. Valence_mean=valence{where} (repeatable)")
    return parser


def rater_options() -> argparse.ArgumentParser:
    """The parent parser of ``--rater``, ``--param`` and ``--quiet`` (``rate``, ``demo``, ``probe``)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rater", default=DEFAULT_RATER, help=f"rater name (default: {DEFAULT_RATER}; see `affectscope raters`)")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="rater parameter, the value read as JSON where it parses (repeatable)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


def gw_categories(humans: Any, choice: str) -> str | None:
    """``--gw-categories``: ``auto`` -> ``top`` with category columns, else a ``category`` column, else none."""
    if choice == "none":
        return None
    if choice != "auto":
        return choice
    if humans.columns_of("category"):
        return "top"
    return "category" if "category" in humans.data.columns else None
