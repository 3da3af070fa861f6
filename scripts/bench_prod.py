"""Production mode under load on this machine: one Rasa server against two, then the soak.

    python -m scripts.bench_prod [--quick] [--phase-seconds 45] [--shippers 16]
                                 [--conversations 200] [--concurrency 32]

Seeds a PostgreSQL store of its own (`parcelline_benchprod_run`, dropped at the end; Redis
database 10 for Rasa's locks) and starts the production stack on free ports twice, with one
and with two Rasa servers sharing that store. Each runs the load bench's saturation workload
(scripts/bench.py: simulated shippers over the widget's WebSocket, no pauses, the same seed)
and prints turns/s and p50/p95/p99 per turn type, then the two side by side. On the stack with
two servers the soak follows (scripts/soak.py): `--conversations` conversations,
`--concurrency` at a time, each filing a complaint or answering a survey to the end; then every
ticket and survey answer the bot confirmed is looked up in the store, and the counts printed.
Exit status 1 on any error, or anything confirmed and not found exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError

from knowledge import index as kindex
from scripts import production_stack
from scripts.bench import (
    TURN_TYPES,
    MemoryWatch,
    Pools,
    Results,
    Shipper,
    drive,
    model_for_run,
    prepare_pools,
    print_phase,
    script_for,
    summarise,
)
from scripts.soak import Verdict, print_soak, soak

DATABASE = "parcelline_benchprod_run"
REDIS_DB = 10
SERVER_COUNTS = (1, 2)
# The bench's own traffic comes from one address, fast; the desk never closes, so an A-tier
# complaint waits for an agent (no call-back ticket) whatever the hour.
ENV = {"CHAT_RATE_PER_CONVERSATION": "0", "CHAT_RATE_PER_IP": "0", "HANDOFF_HOURS": "always"}


@dataclass
class Report:
    """Figures of one run, for the caller (tests) as well as the terminal."""

    saturation: dict[int, dict[str, object]] = field(default_factory=dict)
    rss_mb: dict[int, dict[str, float]] = field(default_factory=dict)
    soak: Verdict | None = None
    soak_results: Results | None = None

    @property
    def errors(self) -> int:
        counted = sum(int(s["errors"]) for s in self.saturation.values())  # type: ignore[call-overload]
        if self.soak_results is not None:
            counted += sum(self.soak_results.errors.values())
        return counted

    @property
    def ok(self) -> bool:
        soaked = self.soak is not None and self.soak.complete and self.soak.exactly_once
        return self.errors == 0 and soaked


async def knowledge_ready(ws_url: str, pools: Pools, timeout: float = 300.0) -> float:
    """Seconds until a knowledge question is answered. The action server answers its health
    check before its knowledge index has loaded (in the background), and on a busy machine a
    knowledge turn before then outlasts the gateway's timeout: that is start-up, not load."""
    started = time.monotonic()
    rng = random.Random(5)
    while time.monotonic() - started < timeout:
        shipper = Shipper(ws_url, Results(), 0.0, rng)
        if (await shipper.conversation(script_for("knowledge", pools, rng))).finished:
            return time.monotonic() - started
        await asyncio.sleep(2)
    raise TimeoutError(f"no knowledge answer after {timeout:.0f} s")


def compare(report: Report) -> None:
    one, two = report.saturation[1], report.saturation[2]
    print("\none Rasa server against two (saturation, same workload):")
    print(f"  {'turn type':<11} {'p95 1 srv':>10} {'p95 2 srv':>10} {'ratio':>6}")
    for kind in TURN_TYPES:
        a = one["types"].get(kind)  # type: ignore[attr-defined]
        b = two["types"].get(kind)  # type: ignore[attr-defined]
        if a and b:
            print(f"  {kind:<11} {a['p95']:>10.0f} {b['p95']:>10.0f} {b['p95'] / a['p95']:>6.2f}")
    rate1, rate2 = float(one["turns_per_s"]), float(two["turns_per_s"])  # type: ignore[arg-type]
    gain = f"x{rate2 / rate1:.2f}" if rate1 else "n/a"
    print(f"  turns/s     {rate1:>10.1f} {rate2:>10.1f} {gain:>6}")
    rasa1 = sum(mb for name, mb in report.rss_mb[1].items() if name.startswith("rasa"))
    rasa2 = sum(mb for name, mb in report.rss_mb[2].items() if name.startswith("rasa"))
    print(
        f"  Rasa RSS MB {rasa1:>10.0f} {rasa2:>10.0f}  (one more server: {rasa2 - rasa1:+.0f} MB)"
    )


def run(args: argparse.Namespace) -> Report:
    folder = Path(tempfile.mkdtemp(prefix="bench-prod-"))
    customers, shipments = (60, 2500) if args.quick else (600, 24_000)
    try:
        production_stack.redis_command(REDIS_DB, "FLUSHDB")
    except OSError as exc:
        raise SystemExit(f"Redis is not reachable at 127.0.0.1:6379: {exc}") from exc
    print(
        f"store: PostgreSQL database {args.database}, {customers} customers, {shipments} "
        f"shipments; Redis database {REDIS_DB}; logs in {folder}",
        flush=True,
    )
    kindex.ensure_built(echo=lambda _line: None)
    model = model_for_run(False, folder)
    report = Report()
    try:
        with production_stack.seeded_database(args.database, customers, shipments) as url:
            for servers in SERVER_COUNTS:
                stack = production_stack.production_stack(
                    model, url, REDIS_DB, folder / f"{servers}-servers", servers, ENV
                )
                started = time.monotonic()
                stack.start(timeout=420)
                ws_url = stack.backend_url.replace("http://", "ws://") + "/api/chat/ws"
                ready = time.monotonic() - started
                print(
                    f"\n{servers} Rasa server(s): all services answering after {ready:.0f} s",
                    flush=True,
                )
                try:
                    pools = prepare_pools(url, survey_invitations=50 if args.quick else 600)
                    waited = asyncio.run(knowledge_ready(ws_url, pools))
                    print(f"  knowledge answering after {waited:.0f} s more", flush=True)
                    # Warm up: first turns load lazily (Rasa's graph on each server).
                    warm = 6 if args.quick else 15
                    asyncio.run(drive(ws_url, pools, 4, warm, 0.0, seed=99))
                    with MemoryWatch(stack) as memory:
                        results = asyncio.run(
                            drive(ws_url, pools, args.shippers, args.phase_seconds, 0.0, seed=1)
                        )
                    summary = summarise(results)
                    report.saturation[servers] = summary
                    report.rss_mb[servers] = dict(memory.peak)
                    name = f"saturation {args.shippers}, {servers} Rasa server(s)"
                    print_phase(name, summary, results, {})
                    if servers == SERVER_COUNTS[-1]:
                        compare(report)
                        report.soak, report.soak_results = soak(
                            ws_url, url, args.conversations, args.concurrency, seed=args.seed
                        )
                        label = f"{servers} Rasa servers"
                        print_soak(report.soak, report.soak_results, args.concurrency, label)
                finally:
                    stack.stop()
    except OperationalError as exc:
        raise SystemExit(f"PostgreSQL is not reachable: {exc.orig}") from exc
    finally:
        production_stack.redis_command(REDIS_DB, "FLUSHDB")
    finished = f"{report.soak.finished} of {report.soak.conversations}" if report.soak else "none"
    print(f"\nverdict: errors {report.errors}; soak conversations finished {finished}; "
          f"{'PASS' if report.ok else 'FAIL'}")  # fmt: skip
    return report


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small store, short phases (tests)")
    parser.add_argument("--phase-seconds", type=float, default=45.0, help="saturation length")
    parser.add_argument("--shippers", type=int, default=16, help="saturation: shippers at once")
    parser.add_argument("--conversations", type=int, default=200, help="soak conversations")
    parser.add_argument("--concurrency", type=int, default=32, help="soak: conversations at once")
    parser.add_argument("--seed", type=int, default=7, help="soak: parcels and order")
    parser.add_argument("--database", default=DATABASE, help="PostgreSQL database (recreated)")
    args = parser.parse_args(argv)
    if args.quick:
        args.phase_seconds = min(args.phase_seconds, 6.0)
        args.shippers = min(args.shippers, 4)
        args.conversations = min(args.conversations, 24)
        args.concurrency = min(args.concurrency, 8)
    return args


def main(argv: list[str] | None = None) -> int:
    return 0 if run(parse(argv)).ok else 1


if __name__ == "__main__":
    sys.exit(main())
