"""Time the CRM recomputation (tiers, churn, satisfaction index) on seeded stores.

    python -m scripts.bench_crm [--scales 1,10] [--runs 3] [--no-postgres] [--fresh] [--keep]

Stores: the demo seed with its complaint history (600 customers, 24,000 shipments) times
each scale, with a fixed seed and anchor, on SQLite (var/bench/crm-<scale>x.db, kept and
reused; --fresh seeds them again) and on PostgreSQL (schema bench_crm_<scale>x of a
database of its own, `parcelline_bench_crm` on the server of BENCH_POSTGRES_URL, created
for the run and dropped at the end unless --keep); each store is ANALYZEd. Prints the
first (cold) run and the fastest of --runs, then one more run under tracemalloc for the
memory the recomputation allocates (Python's peak), and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from backend.config import REPO_ROOT
from backend.crm import churn, tiers
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.seed import seed_database
from scripts import postgres_admin

POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DATABASE = "parcelline_bench_crm"
BENCH_DATABASE_URL = (
    make_url(POSTGRES_URL).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
)
ANCHOR = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)
CUSTOMERS, SHIPMENTS = 600, 24_000
TARGET_SECONDS = 5.0  # for the 10x store on PostgreSQL


def sqlite_url(scale: int, fresh: bool) -> str:
    path = REPO_ROOT / "var" / "bench" / f"crm-{scale}x.db"
    if fresh and path.exists():
        path.unlink()
    return f"sqlite:///{path}"


def create_database() -> bool:
    problem = postgres_admin.ensure(BENCH_DATABASE_URL)
    if problem:
        print(f"PostgreSQL skipped: {problem} (BENCH_POSTGRES_URL)")
    return problem is None


def drop_database() -> None:
    postgres_admin.drop(BENCH_DATABASE_URL)
    print(f"Dropped the PostgreSQL database {BENCH_DATABASE}.")


def postgres_url(scale: int, fresh: bool) -> str:
    schema = f"bench_crm_{scale}x"
    quoted = postgres_admin.quote_identifier(schema)
    with postgres_admin.admin_connection(BENCH_DATABASE_URL, database=BENCH_DATABASE) as connection:
        if fresh:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    url = make_url(BENCH_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def bench(label: str, url: str, scale: int, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    result = seed_database(
        url,
        customers=CUSTOMERS * scale,
        shipments=SHIPMENTS * scale,
        seed=42,
        anchor=ANCHOR,
        complaints=True,
        echo=lambda _line: None,
    )
    seeded = "seeded" if result.seeded else "reused"
    print(f"{label}: store {seeded} in {time.perf_counter() - started:.1f} s")
    engine = get_engine(url)
    with engine.begin() as connection:
        # Planner statistics, as a settled store has them (PostgreSQL's autovacuum gathers
        # them some time after a bulk load; without them it picks slow plans).
        connection.exec_driver_sql("ANALYZE")
    timings = [recompute_all(engine, ANCHOR).seconds for _ in range(runs)]
    first, best = timings[0], min(timings, key=lambda t: t["total"])
    print(
        f"  first run: total {first['total']:.2f} s; fastest of {runs}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in best.items())
    )
    tracemalloc.start()
    recompute_all(engine, ANCHOR)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = best | {"memory_mb": peak / 2**20}
    print(f"  memory: Python peak {peak / 2**20:.1f} MB during one recomputation")
    if scale == 1:
        with Session(engine) as session:
            for share in tiers.tier_summary(session):
                print(
                    f"  tier {share.tier}: {share.customer_share:6.1%} of customers, "
                    f"{share.revenue_share:6.1%} of revenue"
                )
        evaluation = churn.evaluate(engine, ANCHOR)
        print(
            f"  churn AUC {evaluation.auc_model:.3f} vs recency-only {evaluation.auc_recency:.3f}"
            f" ({evaluation.stopped} of {evaluation.customers} stopped in the held-back months);"
            f" without complaints and surveys {evaluation.auc_without_feedback:.3f};"
            f" fitted on the split before {evaluation.auc_fitted:.3f}"
        )
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_crm")
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the seed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="seed the stores again")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args(argv)
    postgres = not args.no_postgres and create_database()
    try:
        rows = run(args, postgres)
    finally:
        if postgres and not args.keep:
            drop_database()
    print("\nRecompute time (fastest run): tiers + churn + index = total; Python peak memory")
    for label, t in rows:
        print(
            f"  {label:<60} {t['tiers']:6.2f} + {t['churn']:6.2f} + {t['index']:6.2f} "
            f"= {t['total']:6.2f} s  {t['memory_mb']:6.1f} MB"
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak resident memory of this process (seeding included): {peak_rss:.0f} MB")
    return 0


def run(args: argparse.Namespace, postgres: bool) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        label = f"{scale}x ({CUSTOMERS * scale:,} customers, {SHIPMENTS * scale:,} shipments)"
        rows.append(
            (
                f"SQLite {label}",
                bench(f"SQLite {label}", sqlite_url(scale, args.fresh), scale, args.runs),
            )
        )
        if postgres:
            best = bench(f"PostgreSQL {label}", postgres_url(scale, args.fresh), scale, args.runs)
            rows.append((f"PostgreSQL {label}", best))
            if scale >= 10 and best["total"] > TARGET_SECONDS:
                print(f"  over the {TARGET_SECONDS:.0f} s target")
    return rows


if __name__ == "__main__":
    sys.exit(main())
