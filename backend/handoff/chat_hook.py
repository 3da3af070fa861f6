"""The handoff's part in each customer turn (the gateway records the transcript itself).

Before the turn: while an agent holds the conversation the bot is not asked; the message
only goes to the transcript, where the agent's console shows it. While a handoff merely waits
in the queue, the bot keeps helping (the agent reads everything when they join).
After the turn: a threat or safety issue in the message queues the conversation for a person at
once, whatever the bot was doing; abusive language is answered calmly, with the offer of a
person, once per conversation (a complaint form says its own calm words instead).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.config import Settings
from backend.conversations.models import ChatMessage, Sender
from backend.handoff import service
from backend.handoff.models import HandoffStatus, Reason
from backend.store.queries import find_shipment
from backend.tone import CALM_REPLY, COMPLAINT_CALM, Tone, tone_of

logger = logging.getLogger("backend.handoff")


def agent_holds(engine: Engine | None, conversation_id: str) -> bool:
    if engine is None:
        return False
    with Session(engine) as session:
        handoff = service.open_handoff(session, conversation_id)
        return handoff is not None and handoff.status is HandoffStatus.held


def is_threat(text: str) -> bool:
    return tone_of(text) is Tone.safety


def needs_calming(engine: Engine | None, conversation_id: str, text: str, answered: str) -> bool:
    """Abusive words, and neither this turn's answer (`answered`) nor an earlier one already
    answered them calmly."""
    if engine is None or tone_of(text) is not Tone.abusive or COMPLAINT_CALM in answered:
        return False
    with Session(engine) as session:
        said = session.exec(
            select(col(ChatMessage.id)).where(
                ChatMessage.conversation_id == conversation_id,
                ChatMessage.sender == Sender.bot,
                ChatMessage.text == CALM_REPLY,
            )
        ).first()
        return said is None


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
