"""SQL views of what customers told the carrier, shared by the satisfaction index and churn
risk so both read complaints and survey answers the same way.

- A complaint is *closed* when its ticket is resolved or rejected; it closed at the latest
  event that moved it to one of those states. It is *open at* a moment when it was filed by
  then and had not closed by then.
- A survey invitation's answers are summarised per invitation: how many questions were
  answered (skips included: the person responded), and the CSAT (1-5) and NPS (0-10) scores.
"""

from __future__ import annotations

from sqlalchemy import Subquery, case, func, select
from sqlmodel import col

from backend.complaints.models import ComplaintEvent, TicketStatus
from backend.surveys.models import SurveyAnswer

CLOSED = (TicketStatus.resolved, TicketStatus.rejected)
LOW_CSAT = 2  # a CSAT answer at or below this is a low one
DETRACTOR = 6  # an NPS answer at or below this is a detractor's; 9 and 10 are promoters'
PROMOTER = 9


def closures() -> Subquery:
    """(ticket_id, closed_at) of every ticket that was ever resolved or rejected."""
    return (
        select(
            ComplaintEvent.ticket_id.label("ticket_id"),
            func.max(ComplaintEvent.occurred_at).label("closed_at"),
        )
        .where(col(ComplaintEvent.to_status).in_(CLOSED))
        .group_by(ComplaintEvent.ticket_id)
        .subquery("complaint_closures")
    )


def answers_per_invitation() -> Subquery:
    """(invitation_id, answers, csat, nps) of every invitation with at least one answer."""
    return (
        select(
            SurveyAnswer.invitation_id.label("invitation_id"),
            func.count().label("answers"),
            func.max(case((SurveyAnswer.question == "csat", SurveyAnswer.score))).label("csat"),
            func.max(case((SurveyAnswer.question == "nps", SurveyAnswer.score))).label("nps"),
        )
        .group_by(SurveyAnswer.invitation_id)
        .subquery("survey_responses")
    )
