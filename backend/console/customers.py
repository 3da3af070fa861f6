"""Customer search (name, phone, e-mail, code or tracking number) and the customer 360 view."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, or_, select

from backend.complaints.models import ComplaintTicket, TicketStatus
from backend.crm.models import ChurnRisk, CustomerTier
from backend.handoff.models import Handoff
from backend.store import tracking_numbers
from backend.store.models import Customer, Shipment, utcnow
from backend.store.queries import find_shipment, shipment_events
from backend.surveys.models import SurveyAnswer, SurveyInvitation
from backend.tracking import describe, summarise

MAX_RESULTS = 20
OPEN_TICKETS = (TicketStatus.open, TicketStatus.in_progress, TicketStatus.waiting_for_customer)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def search_customers(session: Session, query: str, limit: int = MAX_RESULTS) -> list[Customer]:
    """Customers whose name, contact, e-mail, code or phone matches; a tracking number finds
    the shipment's customer."""
    text = " ".join(query.split())[:200]
    if len(text) < 2:
        return []
    found: list[Customer] = []
    for number in tracking_numbers.find_candidates(text):
        shipment = find_shipment(session, number)
        if shipment is not None:
            customer = session.get(Customer, shipment.customer_id)
            if customer is not None and customer not in found:
                found.append(customer)
    like = f"%{text.lower()}%"
    conditions = [
        func.lower(Customer.name).like(like),
        func.lower(Customer.contact_name).like(like),
        func.lower(Customer.email).like(like),
        func.lower(Customer.code).like(like),
    ]
    digits = _digits(text)
    if len(digits) >= 4:
        # Phones are stored as E.164; a national "07700 900123" matches on its last digits.
        conditions.append(col(Customer.phone).like(f"%{digits.lstrip('0')[-9:]}%"))
    rows = session.exec(
        select(Customer).where(or_(*conditions)).order_by(Customer.name).limit(limit)
    )
    for customer in rows:
        if customer not in found:
            found.append(customer)
    return found[:limit]


def customer_by_code(session: Session, code: str) -> Customer | None:
    return session.exec(select(Customer).where(Customer.code == code.upper())).first()


def shipment_view(session: Session, shipment: Shipment, now: datetime) -> dict[str, Any]:
    assert shipment.id is not None
    summary = summarise(shipment, shipment_events(session, shipment.id), now)
    return {
        "tracking_number": shipment.tracking_number,
        "status": summary.status.value,
        "status_text": summary.status_text,
        "summary": describe(summary, now),
        "shipped_at": shipment.shipped_at,
        "destination_city": shipment.destination_city,
        "service_level": shipment.service_level.value,
        "declared_value": shipment.declared_value,
        "days_late": summary.days_late,
    }


def customer_360(
    session: Session, customer: Customer, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the next agent should know about a customer, newest first."""
    now = now or utcnow()
    assert customer.id is not None
    tier = session.get(CustomerTier, customer.id)
    risk = session.get(ChurnRisk, customer.id)
    shipments = session.exec(
        select(Shipment)
        .where(Shipment.customer_id == customer.id)
        .order_by(col(Shipment.shipped_at).desc())
        .limit(10)
    ).all()
    tickets = session.exec(
        select(ComplaintTicket)
        .where(
            ComplaintTicket.customer_id == customer.id,
            col(ComplaintTicket.status).in_(OPEN_TICKETS),
        )
        .order_by(col(ComplaintTicket.sla_due_at))
    ).all()
    answers = session.exec(
        select(SurveyAnswer, SurveyInvitation)
        .join(SurveyInvitation, col(SurveyAnswer.invitation_id) == SurveyInvitation.id)
        .where(SurveyInvitation.customer_id == customer.id, col(SurveyAnswer.skipped).is_(False))
        .order_by(col(SurveyAnswer.answered_at).desc())
        .limit(20)
    ).all()
    conversations = sorted(
        {
            *(t.conversation_id for t in tickets if t.conversation_id),
            *session.exec(
                select(Handoff.conversation_id).where(Handoff.customer_id == customer.id)
            ).all(),
        }
    )
    return {
        "code": customer.code,
        "name": customer.name,
        "kind": customer.kind.value,
        "contact_name": customer.contact_name,
        "phone": customer.phone,
        "email": customer.email,
        "city": customer.city,
        "account_manager": customer.account_manager,
        "tier": tier.tier.value if tier else None,
        "value_score": round(tier.score, 3) if tier else None,
        "churn": (
            {
                "level": risk.level.value,
                "score": round(risk.score, 3),
                "reasons": risk.reasons,
                "suggested_action": risk.suggested_action,
            }
            if risk
            else None
        ),
        "shipments": [shipment_view(session, s, now) for s in shipments],
        "open_complaints": [
            {
                "reference": t.reference,
                "category": t.category.value,
                "status": t.status.value,
                "priority": t.priority,
                "sla_due_at": t.sla_due_at,
                "minutes_to_sla": int((t.sla_due_at - now).total_seconds() // 60),
            }
            for t in tickets
        ],
        "survey_answers": [
            {
                "question": a.question,
                "score": a.score,
                "text": a.text,
                "answered_at": a.answered_at,
                "kind": i.kind.value,
            }
            for a, i in answers
        ],
        "conversations": conversations,
    }
