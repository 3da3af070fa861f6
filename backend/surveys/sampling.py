"""The monthly relationship sample: a few business customers per account manager.

Each manager's business customers who shipped in the last 365 days are candidates, except
those sampled the month before. Tier and churn risk are the CRM's (backend/crm: the stored
figures of the latest recomputation). A candidate's weight is (1 + 4 x churn risk), times 3
for an A-tier customer, so a customer about to leave is up to five times as likely to be
asked about service quality; each manager gets `per_manager` of them, drawn without
replacement in proportion to weight (Efraimidis-Spirakis keys; the draw is seeded by the
month unless `seed` is given, so a month's sample is stable). Each pick is stored with its
weight and reasons, and gets a relationship-survey invitation by e-mail. Running the job
again for a month that was already sampled changes nothing. This is the only relationship
sampler: the CRM API lists what it stored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from backend.crm.models import ChurnRisk, CustomerTier, RiskLevel, Tier
from backend.store.models import Customer, CustomerKind, Shipment
from backend.surveys.invitations import _create_once, is_opted_out, new_token, queue_message
from backend.surveys.models import (
    InvitationStatus,
    RelationshipSample,
    SurveyInvitation,
    SurveyKind,
)

A_TIER_WEIGHT = 3.0
RISK_WEIGHT = 4.0  # weight = 1 + RISK_WEIGHT x churn risk (0..1)
RELATIONSHIP_EXPIRY = timedelta(days=14)


def period_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _month_end(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def previous_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


@dataclass
class SampleResult:
    period: str
    created: bool
    samples: list[RelationshipSample]


def sample_relationships(
    session: Session,
    period: str | None = None,
    per_manager: int = 5,
    seed: int | None = None,
    now: datetime | None = None,
    public_url: str = "http://127.0.0.1:8000",
) -> SampleResult:
    if now is None:
        # A past month is sampled as it stood at its end (activity, tiers, risk then).
        now = datetime.now(UTC)
        if period is not None:
            now = min(now, _month_end(period))
    period = period or period_of(now)
    done = session.exec(select(RelationshipSample).where(RelationshipSample.period == period)).all()
    if done:
        return SampleResult(period, created=False, samples=list(done))
    last_month = set(
        session.exec(
            select(RelationshipSample.customer_id).where(
                RelationshipSample.period == previous_period(period)
            )
        ).all()
    )
    active = set(
        session.exec(
            select(Shipment.customer_id)
            .where(col(Shipment.shipped_at) >= now - timedelta(days=365))
            .distinct()
        ).all()
    )
    candidates = session.exec(
        select(Customer, CustomerTier.tier, ChurnRisk)
        .outerjoin(CustomerTier, col(CustomerTier.customer_id) == Customer.id)
        .outerjoin(ChurnRisk, col(ChurnRisk.customer_id) == Customer.id)
        .where(Customer.kind == CustomerKind.business)
        .order_by(col(Customer.id))
    ).all()
    rng = random.Random(seed if seed is not None else f"relationship-{period}")
    by_manager: dict[str, list[tuple[Customer, Tier | None, ChurnRisk | None]]] = {}
    for customer, tier, risk in candidates:
        if customer.id in active and customer.id not in last_month:
            by_manager.setdefault(customer.account_manager, []).append((customer, tier, risk))
    samples: list[RelationshipSample] = []
    for manager in sorted(by_manager):
        keyed = []
        for customer, tier, risk in by_manager[manager]:
            weight, reasons = candidate_weight(tier, risk)
            keyed.append((rng.random() ** (1.0 / weight), customer, weight, reasons))
        keyed.sort(key=lambda item: item[0], reverse=True)
        for _key, customer, weight, reasons in keyed[:per_manager]:
            samples.append(_sample(session, period, customer, weight, reasons, now, public_url))
    return SampleResult(period, created=True, samples=samples)


def candidate_weight(tier: Tier | None, risk: ChurnRisk | None) -> tuple[float, list[str]]:
    """A candidate's sampling weight and the reasons for it, from the CRM's stored figures."""
    weight, reasons = 1.0, []
    if tier is Tier.A:
        weight *= A_TIER_WEIGHT
        reasons.append("A-tier")
    if risk is not None and risk.score > 0:
        weight *= 1.0 + RISK_WEIGHT * risk.score
        if risk.level is not RiskLevel.low:
            why = risk.reasons[0]["text"] if risk.reasons else ""
            reasons.append(f"{risk.level.value} churn risk {risk.score:.2f}: {why}".strip(": "))
    return round(weight, 4), reasons


def _sample(
    session: Session,
    period: str,
    customer: Customer,
    weight: float,
    reasons: list[str],
    now: datetime,
    public_url: str,
) -> RelationshipSample:
    contact = customer.email.strip().lower()
    invited = _create_once(
        session,
        SurveyInvitation(
            token=new_token(),
            kind=SurveyKind.relationship,
            dedupe_key=f"relationship:{period}:{customer.id}",
            customer_id=customer.id,
            contact=contact,
            status=(
                InvitationStatus.opted_out
                if is_opted_out(session, contact)
                else InvitationStatus.pending
            ),
            created_at=now,
            expires_at=now + RELATIONSHIP_EXPIRY,
        ),
    )
    session.flush()
    queue_message(session, invited.invitation, public_url, customer=customer)
    sample = RelationshipSample(
        period=period,
        customer_id=customer.id or 0,
        account_manager=customer.account_manager,
        weight=weight,
        reasons=("; ".join(reasons) or "random")[:200],
        invitation_id=invited.invitation.id,
        created_at=now,
    )
    session.add(sample)
    session.flush()
    return sample
