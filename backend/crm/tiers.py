"""Customer value pyramid (ABC): a value score per customer, tiers, tier history.

Definitions (also in backend/crm/README.md):
- Window: shipments with `as_of - window_days < shipped_at <= as_of` (default 365 days).
- Measures per customer over the window: shipment count, average revenue per shipment, total
  revenue, and margin (revenue minus cost).
- Score: the weighted sum of the customer's percentile rank (`percent_rank()`, 0 for the
  lowest, 1 for the highest; equal values share a rank) on each measure among customers
  with at least one shipment in the window ("active customers"). Default weights: count
  0.30, average revenue 0.15, revenue 0.30, margin 0.25. Ranks rather than raw values keep
  one giant shipper from flattening everyone else's score.
- Tiers: active customers ordered by score, highest first, with `rank()` (ties share the
  better position). With N active customers, positions up to ceil(a_share * N) are A,
  up to ceil((a_share + b_share) * N) are B, the rest C. Tied customers never straddle a
  boundary: they all take the better tier, so A can hold a few more than 20 %.
- Customers with no shipment in the window are C, with score 0 and no rank.
- History: every time a customer's tier differs from the stored one (or the customer has
  none yet), a `crm_tier_changes` row is written; rows with a previous tier are the "tier
  changed" events agents see.

Everything per shipment is aggregated by the database (one grouped query with window
functions); Python only sees one row per customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, over, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from backend.crm.config import CrmSettings, get_crm_settings
from backend.crm.models import CustomerTier, Tier, TierChange
from backend.crm.sql import default_as_of, lock_recompute
from backend.store.models import Customer, Shipment


@dataclass(frozen=True)
class CustomerScore:
    customer_id: int
    shipments: int
    revenue: float
    margin: float
    avg_revenue: float
    score: float
    rank: int | None  # None: no shipment in the window


@dataclass(frozen=True)
class TierRun:
    as_of: datetime
    customers: int
    active: int
    counts: dict[str, int]
    changes: int  # customers whose tier changed (first assignments not counted)


def compute_scores(
    db: Connection | Session, as_of: datetime, settings: CrmSettings | None = None
) -> list[CustomerScore]:
    """Scores and ranks of the active customers, best first (one query)."""
    settings = settings or get_crm_settings()
    since = as_of - timedelta(days=settings.window_days)
    n = func.count(Shipment.id)
    revenue = func.sum(Shipment.revenue)
    margin = func.sum(Shipment.revenue - Shipment.cost)
    agg = (
        select(
            Shipment.customer_id.label("customer_id"),
            n.label("shipments"),
            revenue.label("revenue"),
            margin.label("margin"),
            (revenue / n).label("avg_revenue"),
        )
        .where(Shipment.shipped_at > since, Shipment.shipped_at <= as_of)
        .group_by(Shipment.customer_id)
        .subquery("agg")
    )
    w = settings.tier_weights
    score = (
        w["count"] * over(func.percent_rank(), order_by=agg.c.shipments)
        + w["avg_revenue"] * over(func.percent_rank(), order_by=agg.c.avg_revenue)
        + w["revenue"] * over(func.percent_rank(), order_by=agg.c.revenue)
        + w["margin"] * over(func.percent_rank(), order_by=agg.c.margin)
    )
    scored = select(agg, score.label("score")).subquery("scored")
    ranked = select(
        scored, over(func.rank(), order_by=scored.c.score.desc()).label("rank")
    ).order_by("rank", scored.c.customer_id)
    return [
        CustomerScore(
            customer_id=row.customer_id,
            shipments=row.shipments,
            revenue=float(row.revenue),
            margin=float(row.margin),
            avg_revenue=float(row.avg_revenue),
            score=float(row.score),
            rank=row.rank,
        )
        for row in db.execute(ranked)
    ]


def cut_offs(active: int, settings: CrmSettings | None = None) -> tuple[int, int]:
    """Last position of tier A and of tier B among `active` ranked customers."""
    settings = settings or get_crm_settings()
    # A small tolerance keeps 0.2 * 10 from becoming 3 through floating-point noise.
    a = math.ceil(settings.a_share * active - 1e-9)
    ab = math.ceil((settings.a_share + settings.b_share) * active - 1e-9)
    return a, ab


def tier_for(rank: int | None, cuts: tuple[int, int]) -> Tier:
    if rank is None:
        return Tier.C
    if rank <= cuts[0]:
        return Tier.A
    return Tier.B if rank <= cuts[1] else Tier.C


def assign_tiers(
    scores: Sequence[CustomerScore], settings: CrmSettings | None = None
) -> dict[int, Tier]:
    cuts = cut_offs(len(scores), settings)
    return {s.customer_id: tier_for(s.rank, cuts) for s in scores}


def recompute_tiers(
    engine: Engine,
    as_of: datetime | None = None,
    settings: CrmSettings | None = None,
    now: datetime | None = None,
) -> TierRun:
    """Score everyone, store the current tiers and record every change, in one transaction."""
    settings = settings or get_crm_settings()
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        lock_recompute(connection)
        as_of = as_of or default_as_of(connection)
        scores = compute_scores(connection, as_of, settings)
        tiers = assign_tiers(scores, settings)
        by_id = {s.customer_id: s for s in scores}
        customer_ids = list(connection.execute(select(Customer.id)).scalars())
        previous = {
            row.customer_id: (row.tier, row.since)
            for row in connection.execute(
                select(CustomerTier.customer_id, CustomerTier.tier, CustomerTier.since)
            )
        }
        rows, changes = [], []
        counts = {tier.value: 0 for tier in Tier}
        changed = 0
        for customer_id in customer_ids:
            s = by_id.get(customer_id)
            tier = tiers.get(customer_id, Tier.C)
            counts[tier.value] += 1
            old = previous.get(customer_id)
            since = old[1] if old and old[0] == tier else now
            rows.append(
                {
                    "customer_id": customer_id,
                    "tier": tier,
                    "score": s.score if s else 0.0,
                    "rank": s.rank if s else None,
                    "shipments": s.shipments if s else 0,
                    "revenue": s.revenue if s else 0.0,
                    "margin": s.margin if s else 0.0,
                    "avg_revenue": s.avg_revenue if s else 0.0,
                    "since": since,
                    "computed_at": now,
                }
            )
            if old is None or old[0] != tier:
                changed += old is not None
                changes.append(
                    {
                        "customer_id": customer_id,
                        "previous_tier": old[0] if old else None,
                        "tier": tier,
                        "score": s.score if s else 0.0,
                        "changed_at": now,
                    }
                )
        connection.execute(delete(CustomerTier))
        _insert(connection, CustomerTier, rows)
        _insert(connection, TierChange, changes)
    return TierRun(as_of, len(customer_ids), len(scores), counts, changed)


def _insert(connection: Connection, model: type, rows: Iterable[dict]) -> None:
    rows = list(rows)
    for start in range(0, len(rows), 5000):
        connection.execute(insert(model), rows[start : start + 5000])


# ---------------------------------------------------------------- reading


def current_tier(session: Session, customer_id: int) -> Tier:
    """The tier the bot and the complaint SLA use: C until the customer has been scored."""
    tier = session.exec(
        select(CustomerTier.tier).where(CustomerTier.customer_id == customer_id)
    ).first()
    return tier[0] if tier is not None else Tier.C


@dataclass(frozen=True)
class TierShare:
    tier: Tier
    customers: int
    customer_share: float
    revenue: float
    revenue_share: float
    margin: float


def tier_summary(session: Session) -> list[TierShare]:
    """Each tier's share of customers and of window revenue, from the stored tiers."""
    query = select(
        CustomerTier.tier,
        func.count(),
        func.coalesce(func.sum(CustomerTier.revenue), 0.0),
        func.coalesce(func.sum(CustomerTier.margin), 0.0),
    ).group_by(CustomerTier.tier)
    found = {row[0]: row for row in session.execute(query)}
    customers = sum(row[1] for row in found.values())
    revenue = sum(float(row[2]) for row in found.values())
    result = []
    for tier in Tier:
        _, count, rev, margin = found.get(tier, (tier, 0, 0.0, 0.0))
        result.append(
            TierShare(
                tier=tier,
                customers=count,
                customer_share=count / customers if customers else 0.0,
                revenue=round(float(rev), 2),
                revenue_share=float(rev) / revenue if revenue else 0.0,
                margin=round(float(margin), 2),
            )
        )
    return result


def tier_changes(
    session: Session, limit: int = 100, customer_id: int | None = None
) -> list[tuple[TierChange, Customer]]:
    """Latest tier changes (events with a previous tier), newest first."""
    query = (
        select(TierChange, Customer)
        .join(Customer, col(Customer.id) == TierChange.customer_id)
        .order_by(col(TierChange.changed_at).desc(), col(TierChange.id).desc())
        .limit(limit)
    )
    if customer_id is None:
        query = query.where(col(TierChange.previous_tier).is_not(None))
    else:
        query = query.where(TierChange.customer_id == customer_id)
    return [(change, customer) for change, customer in session.execute(query)]
