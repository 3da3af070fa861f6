"""Customer value tiers (the ABC pyramid of DESIGN.md, "CRM practice"), computed from the store.

Score over the last 12 months of shipments, per customer:

    score = 0.30 * count_share + 0.15 * avg_revenue_share + 0.30 * revenue_share
          + 0.25 * margin_share

where each `*_share` is the customer's value divided by the largest value among customers
(so every term lies in 0..1; a negative margin counts as 0). Customers are ranked by score:
the top 20 % are A (VIP), the next 30 % B, the rest C. Customers with no shipment in the window
are C. Ties keep the lower customer id first, so the result is deterministic.

The computation is one grouped query; results are cached per process and database for
`CACHE_SECONDS`, since tiers move slowly.
"""

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from backend.complaints.models import Tier
from backend.store.models import Shipment

# Every weight and cut-off of the tier computation lives here.
WEIGHTS = {"count": 0.30, "avg_revenue": 0.15, "revenue": 0.30, "margin": 0.25}
WINDOW = timedelta(days=365)
A_SHARE = 0.20  # top 20 % of customers by score
B_SHARE = 0.30  # the next 30 %
CACHE_SECONDS = 600.0


@dataclass(frozen=True)
class CustomerValue:
    customer_id: int
    shipments: int
    revenue: float
    margin: float

    @property
    def avg_revenue(self) -> float:
        return self.revenue / self.shipments if self.shipments else 0.0


def customer_values(session: Session, now: datetime) -> list[CustomerValue]:
    since = now - WINDOW
    query = (
        select(
            Shipment.customer_id,
            func.count(Shipment.id),
            func.sum(Shipment.revenue),
            func.sum(Shipment.revenue - Shipment.cost),
        )
        .where(Shipment.shipped_at >= since, Shipment.shipped_at <= now)
        .group_by(Shipment.customer_id)
    )
    return [
        CustomerValue(int(cid), int(count), float(revenue or 0), float(margin or 0))
        for cid, count, revenue, margin in session.exec(query)  # type: ignore[call-overload]
    ]


def scores(values: list[CustomerValue]) -> dict[int, float]:
    if not values:
        return {}
    tops = {
        "count": max(v.shipments for v in values),
        "avg_revenue": max(v.avg_revenue for v in values),
        "revenue": max(v.revenue for v in values),
        "margin": max(max(v.margin, 0.0) for v in values),
    }

    def share(value: float, top: float) -> float:
        return max(value, 0.0) / top if top > 0 else 0.0

    return {
        v.customer_id: WEIGHTS["count"] * share(v.shipments, tops["count"])
        + WEIGHTS["avg_revenue"] * share(v.avg_revenue, tops["avg_revenue"])
        + WEIGHTS["revenue"] * share(v.revenue, tops["revenue"])
        + WEIGHTS["margin"] * share(v.margin, tops["margin"])
        for v in values
    }


def assign_tiers(score_by_customer: dict[int, float]) -> dict[int, Tier]:
    ranked = sorted(score_by_customer, key=lambda cid: (-score_by_customer[cid], cid))
    a_count = math.ceil(len(ranked) * A_SHARE)
    b_count = math.ceil(len(ranked) * (A_SHARE + B_SHARE)) - a_count
    tiers: dict[int, Tier] = {}
    for rank, cid in enumerate(ranked):
        tiers[cid] = Tier.A if rank < a_count else Tier.B if rank < a_count + b_count else Tier.C
    return tiers


def compute_tiers(session: Session, now: datetime | None = None) -> dict[int, Tier]:
    """Tier of every customer with shipments in the window (absent customers are C)."""
    return assign_tiers(scores(customer_values(session, now or datetime.now(UTC))))


_cache: dict[str, tuple[float, dict[int, Tier]]] = {}
_lock = threading.Lock()


def tier_of(session: Session, customer_id: int | None, now: datetime | None = None) -> Tier:
    """The customer's tier (C for an unknown customer), cached per database for a while."""
    if customer_id is None:
        return Tier.C
    key = str(session.get_bind().engine.url)
    with _lock:
        cached = _cache.get(key)
    if now is not None or cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
        tiers = compute_tiers(session, now)
        if now is None:
            with _lock:
                _cache[key] = (time.monotonic(), tiers)
    else:
        tiers = cached[1]
    return tiers.get(customer_id, Tier.C)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
