"""CRM commands.

python -m backend.crm recompute [--database-url URL] [--as-of ISO] [--history-months 12]
                                                                     tiers, churn, index
python -m backend.crm evaluate  [--database-url URL] [--as-of ISO]   churn AUC vs recency
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlmodel import Session

from backend.crm import churn, tiers
from backend.crm.recompute import backfill_tier_history, recompute_all
from backend.crm.sql import default_as_of
from backend.store.db import get_engine, upgrade_database
from backend.store.seed import parse_anchor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.crm")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("recompute", "recompute tiers, churn risk and the satisfaction index"),
        ("evaluate", "how well churn risk ranks customers who stopped (AUC)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--database-url", default=None, help="default: DATABASE_URL")
        command.add_argument(
            "--as-of",
            type=parse_anchor,
            default=None,
            help="moment of the figures (default: the seed's anchor, else now)",
        )
    commands.choices["recompute"].add_argument(
        "--history-months",
        type=int,
        default=12,
        help="on a store with no tier history, first compute the tiers as of the start of "
        "each of this many past months (default 12; 0: no)",
    )
    args = parser.parse_args(argv)
    upgrade_database(args.database_url)
    engine = get_engine(args.database_url)
    if args.command == "recompute":
        if args.history_months > 0:
            with engine.connect() as connection:
                as_of = args.as_of or default_as_of(connection)
            if backfilled := backfill_tier_history(engine, as_of, args.history_months):
                print(f"Tier history: computed as of the start of the last {backfilled} months")
        done = recompute_all(engine, args.as_of)
        print(f"As of {done.as_of:%Y-%m-%d %H:%M} UTC")
        with Session(engine) as session:
            for share in tiers.tier_summary(session):
                print(
                    f"  tier {share.tier}: {share.customers:>6} customers "
                    f"({share.customer_share:6.1%}), revenue £{share.revenue:>12,.2f} "
                    f"({share.revenue_share:6.1%})"
                )
        print(f"  tier changes: {done.tiers.changes}; high churn risk: {done.at_risk}")
        print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in done.seconds.items()))
    else:
        result = churn.evaluate(engine, args.as_of)
        print(_evaluation_text(result))
    return 0


def _evaluation_text(result: churn.Evaluation) -> str:
    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"Scored as of {result.scored_at:%Y-%m-%d}, outcome to {result.outcome_until:%Y-%m-%d}: "
        f"{result.customers} customers, {result.stopped} shipped nothing afterwards.\n"
        f"  AUC churn risk      {shown(result.auc_model)}\n"
        f"  AUC recency only    {shown(result.auc_recency)}\n"
        f"  AUC without complaints and surveys {shown(result.auc_without_feedback)}\n"
        f"  AUC fitted          {shown(result.auc_fitted)} (prior {result.fitted_prior}, "
        f"weights {result.fitted_weights}, chosen on the earlier split)\n"
        f"  high risk: {result.high_risk}, of whom {result.high_risk_stopped} stopped"
    )


if __name__ == "__main__":
    sys.exit(main())
