"""Customer value tier (ABC) and churn risk, as far as surveys need them.

A stand-in for the CRM analytics: tiers rank customers by revenue over the last 365 days (the
top 20% are A, the next 30% B, the rest C); a customer is at risk when their shipments in the
last 90 days fell below half of the 90 days before, or a survey follow-up of theirs is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from backend.store.models import Shipment

A_SHARE, B_SHARE = 0.20, 0.30


@dataclass
class CustomerStanding:
    tier: str = "C"
    at_risk: bool = False
    risk_reasons: list[str] = field(default_factory=list)


def standings(session: Session, now: datetime) -> dict[int, CustomerStanding]:
    """Tier and risk of every customer who shipped in the last two years."""
    from backend.surveys.models import FollowUpStatus, FollowUpTask, SurveyInvitation

    year_ago, recent, before = (
        now - timedelta(days=365),
        now - timedelta(days=90),
        now - timedelta(days=180),
    )
    shipped = col(Shipment.shipped_at)
    rows = session.exec(
        select(
            Shipment.customer_id,
            func.sum(case((shipped >= year_ago, Shipment.revenue), else_=0.0)),
            func.sum(case((shipped >= recent, 1), else_=0)),
            func.sum(case(((shipped >= before) & (shipped < recent), 1), else_=0)),
        )
        .where(shipped >= now - timedelta(days=730), shipped <= now)
        .group_by(Shipment.customer_id)
    ).all()
    ranked = sorted(rows, key=lambda r: (-(r[1] or 0.0), r[0]))
    result: dict[int, CustomerStanding] = {}
    a_cut, b_cut = round(len(ranked) * A_SHARE), round(len(ranked) * (A_SHARE + B_SHARE))
    for rank, (customer_id, revenue, last90, prior90) in enumerate(ranked):
        standing = CustomerStanding(tier="A" if rank < a_cut else "B" if rank < b_cut else "C")
        if (revenue or 0) <= 0:
            standing.tier = "C"
        if prior90 >= 4 and last90 < prior90 / 2:
            drop = round(100 * (1 - last90 / prior90))
            standing.at_risk = True
            standing.risk_reasons.append(f"shipments down {drop}%")
        result[customer_id] = standing
    unhappy = session.exec(
        select(SurveyInvitation.customer_id)
        .join(FollowUpTask, col(FollowUpTask.invitation_id) == col(SurveyInvitation.id))
        .where(FollowUpTask.status == FollowUpStatus.open)
        .distinct()
    ).all()
    for customer_id in unhappy:
        if customer_id is None:
            continue
        standing = result.setdefault(customer_id, CustomerStanding())
        standing.at_risk = True
        standing.risk_reasons.append("unhappy survey answer")
    return result


def customer_tier(session: Session, customer_id: int, now: datetime) -> str:
    return standings(session, now).get(customer_id, CustomerStanding()).tier
