"""The gateway's one hook for handoff, around each customer turn.

Before the turn: the customer's message goes to the transcript; while an agent holds the
conversation, it stops there (the agent's console shows it) and Rasa is not asked. While it only
waits in the queue, the bot keeps helping (the agent reads everything when they join).
After the turn: the bot's answers go to the transcript, and a threat or safety issue in the
message queues the conversation for a person at once, whatever the bot was doing.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session

from actions.tone import Tone, tone_of
from backend.api.schemas import BotMessage
from backend.config import Settings
from backend.conversations import Sender, record_message
from backend.handoff import service
from backend.handoff.models import HandoffStatus, Reason
from backend.store.queries import find_shipment

logger = logging.getLogger("backend.handoff")


def before_turn(engine: Engine, conversation_id: str, text: str) -> list[BotMessage] | None:
    """Record the customer's message; an empty reply while an agent holds the conversation
    (the agent answers, through the gateway's push), None to let the bot answer."""
    with Session(engine) as session:
        record_message(session, conversation_id, Sender.customer, text)
        handoff = service.open_handoff(session, conversation_id)
        session.commit()
        return [] if handoff is not None and handoff.status is HandoffStatus.held else None


def after_turn(
    engine: Engine,
    settings: Settings,
    conversation_id: str,
    text: str,
    answers: list[BotMessage],
    tracking_number: str | None = None,
) -> list[BotMessage]:
    """Record the bot's answers; add the handoff notice when the message was a threat."""
    with Session(engine) as session:
        for answer in answers:
            buttons = [b.model_dump() for b in answer.buttons]
            record_message(session, conversation_id, Sender.bot, answer.text or "", buttons)
        extra: list[BotMessage] = []
        if tone_of(text) is Tone.safety and service.open_handoff(session, conversation_id) is None:
            shipment = find_shipment(session, tracking_number) if tracking_number else None
            requested = service.request_handoff(
                session,
                conversation_id,
                Reason.threat,
                settings,
                customer_id=shipment.customer_id if shipment else None,
                note=text,
            )
            logger.warning(
                "threat or safety issue: conversation=%s queued as %s",
                conversation_id,
                requested.handoff.reference,
            )
            extra.append(BotMessage(text=requested.text))
            record_message(session, conversation_id, Sender.bot, requested.text)
        session.commit()
        return extra
