"""Service recovery: an unhappy delivery survey opens a complaint the team must answer.

The complaint is prefilled with the shipment and the customer's own words, so it follows the
same tiered SLA as one filed in the chat; a second unhappy survey on the same parcel adds to
the open ticket instead of duplicating it.
"""

from __future__ import annotations

from sqlmodel import Session

from backend.complaints import service as complaints
from backend.complaints.models import Category
from backend.store.models import Shipment
from backend.surveys.models import SurveyAnswer, SurveyInvitation


def complaint_category(answers: dict[str, SurveyAnswer], reasons: list[str]) -> Category:
    if "damaged" in reasons:
        return Category.damaged
    on_time = answers.get("on_time")
    if on_time is not None and on_time.score == 0:
        return Category.late_delivery
    return Category.other


def open_recovery_complaint(
    session: Session,
    invitation: SurveyInvitation,
    answers: dict[str, SurveyAnswer],
    reasons: list[str],
    conversation_id: str,
) -> str | None:
    """The reference of the complaint opened (or added to) for this survey; None when the
    survey is not about a delivered shipment."""
    if invitation.shipment_id is None:
        return None
    shipment = session.get(Shipment, invitation.shipment_id)
    if shipment is None:
        return None
    comment = answers.get("comment")
    words = comment.text if comment is not None and comment.text else ""
    description = f"Post-delivery survey: {', '.join(reasons)}." + (f" {words}" if words else "")
    filed = complaints.file_complaint(
        session,
        category=complaint_category(answers, reasons),
        description=description,
        shipment=shipment,
        customer_id=shipment.customer_id,
        conversation_id=conversation_id,
    )
    return filed.ticket.reference
