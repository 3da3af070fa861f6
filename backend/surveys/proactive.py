"""Getting a new invitation to its recipient: in the open chat when there is one, else the outbox.

A chat counts as the recipient's when its widget spoke or polled in the last few minutes and
the conversation has proven a right to the parcel's details (Rasa's tracker lists its number
among `verified_numbers`: the last four digits of the recipient's phone were given). Merely
tracking a number proves nothing (anyone can), so it does not bring the survey. The survey
then starts there through Rasa's `trigger_intent`; if that fails, or no such chat is open,
the invitation goes to the outbox.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.api.conversation_bus import BusUnavailable
from backend.api.rasa_gateway import RasaGateway
from backend.config import Settings
from backend.store.models import Customer, Shipment
from backend.surveys.invitations import queue_message
from backend.surveys.models import InvitationStatus, SurveyInvitation

logger = logging.getLogger("backend.surveys")

START_INTENT = "give_feedback"
MAX_CHATS_CHECKED = 50


def _numbers_in(slots: dict[str, object]) -> set[str]:
    value = slots.get("verified_numbers")
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


async def find_open_chat(gateway: RasaGateway, settings: Settings, number: str) -> str | None:
    try:
        chats = await gateway.open_conversations(settings.open_chat_minutes * 60)
    except BusUnavailable as exc:  # no open chat can be found: the invitation goes by SMS
        logger.warning("open chats unknown: %s", exc)
        return None
    chats = chats[:MAX_CHATS_CHECKED]
    for conversation_id in chats:
        slots = await gateway.conversation_slots(conversation_id)
        if slots and number in _numbers_in(slots):
            return conversation_id
    return None


def _queue(engine: Engine, settings: Settings, invitation_id: int) -> bool:
    with Session(engine) as session:
        invitation = session.get(SurveyInvitation, invitation_id)
        if invitation is None:
            return False
        shipment = session.get(Shipment, invitation.shipment_id) if invitation.shipment_id else None
        customer = session.get(Customer, invitation.customer_id) if invitation.customer_id else None
        queued = queue_message(session, invitation, settings.public_url, shipment, customer)
        session.commit()
        return queued is not None


async def deliver(
    gateway: RasaGateway, engine: Engine, settings: Settings, invitation_id: int, number: str
) -> str:
    """Start the survey in the recipient's open chat ("chat"), else queue it ("outbox");
    "none" when nothing may be sent (opted out)."""

    def load() -> SurveyInvitation | None:
        with Session(engine) as session:
            invitation = session.get(SurveyInvitation, invitation_id)
            if invitation is not None:
                session.expunge(invitation)
            return invitation

    invitation = await run_in_threadpool(load)
    if invitation is None or invitation.status is InvitationStatus.opted_out:
        return "none"
    conversation_id = await find_open_chat(gateway, settings, number)
    if conversation_id is not None and await gateway.trigger_intent(
        conversation_id, START_INTENT, {"survey_token": invitation.token}
    ):
        logger.info("survey started in open chat conversation=%s", conversation_id)
        return "chat"
    queued = await run_in_threadpool(_queue, engine, settings, invitation_id)
    return "outbox" if queued else "none"
