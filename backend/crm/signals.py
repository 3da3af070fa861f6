"""SQL views of what customers told the carrier, shared by the satisfaction index and churn
risk so both read complaints and survey answers the same way.

- A complaint is *closed* when its ticket is resolved or rejected; it closed at the latest
  event that moved it to one of those states. It is *open at* a moment when it was filed by
  then and had not closed by then.
- A survey answer is unhappy when it is a CSAT of 1-2 or an NPS of 0-6 (a detractor's); an
  NPS of 9-10 is a promoter's. An invitation with any answer, a skip included, was
  responded to.
"""

from __future__ import annotations

from sqlalchemy import Subquery, func, select
from sqlmodel import col

from backend.complaints.models import ComplaintEvent, TicketStatus

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
