"""``affectscope protocols``: the shipped LLM rating protocols."""

from __future__ import annotations

import argparse
import json
from typing import Any

from affectscope.cli._common import EXIT_OK


def add_parser(sub: Any) -> None:
    pr = sub.add_parser("protocols", help="list the shipped LLM rating protocols")
    pr.add_argument("--json", action="store_true", help="the full protocols as JSON")
    pr.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
