"""The ``affectscope`` command line. Thin: each command is a module of this package that parses its
arguments (``add_parser``) and calls the library (``run``); heavy imports happen inside ``run``, so
``affectscope --help`` starts at once.

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
import os
import sys
import traceback
from collections.abc import Sequence

from affectscope import __version__
from affectscope.cli import brain, compare, demo, probe, protocols, rate, raters, report, study, taxonomy, text, train
from affectscope.cli._common import EXIT_INTERNAL, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, UsageError, json_text

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "UsageError", "build_parser", "json_text", "main"]

#: The commands, in the order ``affectscope --help`` lists them.
COMMANDS = (rate, demo, report, protocols, text, raters, taxonomy, compare, train, probe, study, brain)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    p = argparse.ArgumentParser(
        prog="affectscope",
        description="Rate the emotions pictures and videos evoke, and compare any rater with humans.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage/input error, 3 finished with some failed items.",
    )
    p.add_argument("--version", action="version", version=f"affectscope {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
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
