"""The handoff's part in each customer turn (the gateway records the transcript itself).

Before the turn: while an agent holds the conversation the bot is not asked; the message
only goes to the transcript, where the agent's console shows it. While a handoff merely waits
in the queue, the bot keeps helping (the agent reads everything when they join).
After the turn: a threat or safety issue in the message queues the conversation for a person at
once, whatever the bot was doing.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.config import Settings
from backend.handoff import service
from backend.handoff.models import HandoffStatus, Reason
from backend.store.queries import find_shipment
from backend.tone import Tone, tone_of

logger = logging.getLogger("backend.handoff")


def agent_holds(engine: Engine | None, conversation_id: str) -> bool:
    if engine is None:
        return False
    with Session(engine) as session:
        handoff = service.open_handoff(session, conversation_id)
        return handoff is not None and handoff.status is HandoffStatus.held


def is_threat(text: str) -> bool:
    return tone_of(text) is Tone.safety


def threat_handoff(
    engine: Engine | None,
    settings: Settings,
    conversation_id: str,
    text: str,
    tracking_number: str | None = None,
) -> str | None:
    """Queue the conversation for a person because of a threat; what the customer is told (None
    when the conversation already waits for or has a person)."""
    if engine is None:
        return None
    with Session(engine) as session:
        if service.open_handoff(session, conversation_id) is not None:
            return None
        shipment = find_shipment(session, tracking_number) if tracking_number else None
        requested = service.request_handoff(
            session,
            conversation_id,
            Reason.threat,
            settings,
            customer_id=shipment.customer_id if shipment else None,
            note=text,
        )
        session.commit()
        logger.warning(
            "threat or safety issue: conversation=%s queued as %s",
            conversation_id,
            requested.handoff.reference,
        )
        return requested.text
