"""Command line: build the index, or search it.

python -m knowledge build [--force]
python -m knowledge search "how long do I have to claim" [--k 5] [--ranker fused] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the index when the knowledge changed")
    build_cmd.add_argument("--force", action="store_true", help="build even when up to date")
    search_cmd = sub.add_parser("search", help="rank passages for a question")
    search_cmd.add_argument("query")
    search_cmd.add_argument("--k", type=int, default=5)
    search_cmd.add_argument("--ranker", choices=("dense", "lexical", "fused"), default="fused")
    search_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    from knowledge import index

    def echo(line: str) -> None:
        print(line, file=sys.stderr if args.command == "search" else sys.stdout, flush=True)

    if args.command == "build":
        started = time.monotonic()
        if args.force:
            index.build(echo=echo)
        else:
            index.ensure_built(echo=echo)
        echo(f"  knowledge index ready ({time.monotonic() - started:.1f} s)")
        return 0

    result = index.get_index(echo=echo).search(args.query, k=args.k, ranker=args.ranker)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    if not result.confident:
        print(f"(no confident answer: {result.reason})")
    for rank, hit in enumerate(result.hits, 1):
        print(f"{rank}. {hit.score:.3f}  {hit.id}  [{hit.topic}]  {hit.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
