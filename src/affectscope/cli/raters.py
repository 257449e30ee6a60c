"""``affectscope raters``: every rater with what it outputs and its parameters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from affectscope.cli._common import EXIT_OK


def add_parser(sub: Any) -> None:
    ls = sub.add_parser("raters", help="list raters with what each outputs")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from affectscope.raters.registry import available_raters

    rows = []
    for name, cls in available_raters().items():
        try:
            cols = cls.describe_outputs()
        except Exception as exc:  # noqa: BLE001 - listing must not fail because one rater cannot start
            cols = [f"(unavailable: {exc})"]
        rows.append({"name": name, "family": cls.family, "media": sorted(cls.media), "summary": cls.summary,
                     "outputs": cols, "params": cls._param_names()})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in rows:
        print(f"{r['name']}  [{r['family']}; {', '.join(r['media'])}]  {r['summary']}")
        print(f"    outputs: {', '.join(r['outputs'])}")
        print(f"    params:  {', '.join(r['params']) or '-'}")
    return EXIT_OK
