"""Survey jobs.

python -m backend.surveys sample [--period YYYY-MM] [--per-manager N] [--seed N]
    the monthly relationship sample (run once a month; a month already sampled is left alone)
python -m backend.surveys invite-delivered
    invitations for delivered shipments that have none yet (idempotent)
"""

from __future__ import annotations

import argparse
import sys

from sqlmodel import Session

from backend.config import get_settings
from backend.store.db import get_engine, upgrade_database
from backend.surveys.backlog import invite_delivered_backlog
from backend.surveys.sampling import sample_relationships


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.surveys", description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="monthly relationship-survey sample")
    sample.add_argument("--period", default=None, help="YYYY-MM (default: this month)")
    sample.add_argument("--per-manager", type=int, default=None)
    sample.add_argument("--seed", type=int, default=None, help="fixed random seed")
    commands.add_parser("invite-delivered", help="invite delivered shipments not yet invited")
    args = parser.parse_args(argv)
    settings = get_settings()
    upgrade_database(args.database_url)
    if args.command == "invite-delivered":
        made = invite_delivered_backlog(args.database_url, public_url=settings.public_url)
        print(f"{made} new invitations.")
        return 0
    with Session(get_engine(args.database_url)) as session:
        result = sample_relationships(
            session,
            period=args.period,
            per_manager=args.per_manager or settings.relationship_sample_size,
            seed=args.seed,
            public_url=settings.public_url,
        )
        session.commit()
        verb = "Sampled" if result.created else "Already sampled"
        print(f"{verb} {len(result.samples)} customers for {result.period}:")
        for sample_row in result.samples:
            print(
                f"  {sample_row.account_manager:<16} customer {sample_row.customer_id:>5}  "
                f"weight {sample_row.weight:g}  {sample_row.reasons}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
