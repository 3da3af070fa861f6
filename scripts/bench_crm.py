"""Time the CRM recomputation (tiers, churn, satisfaction index) on seeded stores.

    python -m scripts.bench_crm [--scales 1,10] [--runs 3] [--no-postgres] [--fresh]

Stores: the demo seed (600 customers, 24,000 shipments) times each scale, with a fixed seed
and anchor, on SQLite (var/bench/crm-<scale>x.db) and on PostgreSQL (schema
bench_crm_<scale>x of BENCH_POSTGRES_URL, default the test server). Seeded stores are kept
and reused; --fresh seeds them again. Prints the first (cold) run and the fastest of --runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from backend.config import REPO_ROOT
from backend.crm import churn, tiers
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.seed import seed_database

POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ANCHOR = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)
CUSTOMERS, SHIPMENTS = 600, 24_000
TARGET_SECONDS = 5.0  # for the 10x store on PostgreSQL


def sqlite_url(scale: int, fresh: bool) -> str:
    path = REPO_ROOT / "var" / "bench" / f"crm-{scale}x.db"
    if fresh and path.exists():
        path.unlink()
    return f"sqlite:///{path}"


def postgres_url(scale: int, fresh: bool) -> str | None:
    schema = f"bench_crm_{scale}x"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            if fresh:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except OperationalError as exc:
        print(f"PostgreSQL skipped: not reachable at {POSTGRES_URL} ({exc.orig})")
        return None
    finally:
        admin.dispose()
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def bench(label: str, url: str, scale: int, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    result = seed_database(
        url,
        customers=CUSTOMERS * scale,
        shipments=SHIPMENTS * scale,
        seed=42,
        anchor=ANCHOR,
        echo=lambda _line: None,
    )
    seeded = "seeded" if result.seeded else "reused"
    print(f"{label}: store {seeded} in {time.perf_counter() - started:.1f} s")
    engine = get_engine(url)
    timings = [recompute_all(engine, ANCHOR).seconds for _ in range(runs)]
    first, best = timings[0], min(timings, key=lambda t: t["total"])
    print(
        f"  first run: total {first['total']:.2f} s; fastest of {runs}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in best.items())
    )
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
            f" ({evaluation.stopped} of {evaluation.customers} stopped in the held-back months)"
        )
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_crm")
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the seed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="seed the stores again")
    args = parser.parse_args(argv)
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        label = f"{scale}x ({CUSTOMERS * scale:,} customers, {SHIPMENTS * scale:,} shipments)"
        rows.append(
            (
                f"SQLite {label}",
                bench(f"SQLite {label}", sqlite_url(scale, args.fresh), scale, args.runs),
            )
        )
        pg = None if args.no_postgres else postgres_url(scale, args.fresh)
        if pg:
            best = bench(f"PostgreSQL {label}", pg, scale, args.runs)
            rows.append((f"PostgreSQL {label}", best))
            if scale >= 10 and best["total"] > TARGET_SECONDS:
                print(f"  over the {TARGET_SECONDS:.0f} s target")
    print("\nRecompute time (fastest run): tiers + churn + index = total")
    for label, t in rows:
        print(
            f"  {label:<60} {t['tiers']:6.2f} + {t['churn']:6.2f} + {t['index']:6.2f} "
            f"= {t['total']:6.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
