"""``affectscope taxonomy``: scales, emotion category sets and crosswalks."""

from __future__ import annotations

import argparse
from typing import Any

from affectscope.cli._common import EXIT_OK


def add_parser(sub: Any) -> None:
    t = sub.add_parser("taxonomy", help="list scales, emotion category sets and crosswalks")
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
