"""Handing a conversation to a person: `action_handoff` (the customer asked), and
`hand_over`, which the other actions call when they decide a person must take over (two
messages in a row not understood, an A-tier customer's complaint, a threat).

The queue and what the customer is told live in backend.handoff.service, so the bot and the
backend's own threat check say the same thing.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import latest_text
from actions.store import StoreError, store_session
from backend.config import get_settings
from backend.handoff import service
from backend.handoff.models import Reason
from backend.store.queries import find_shipment
from backend.tone import Tone, tone_of

logger = logging.getLogger(__name__)


def customer_of(session: Any, tracker: Tracker) -> int | None:
    number = tracker.get_slot("tracking_number")
    shipment = find_shipment(session, str(number)) if number else None
    return shipment.customer_id if shipment else None


def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: Reason) -> str | None:
    """Queue the conversation for a person and tell the customer what happens next; the
    handoff's reference (None when the store is down: the customer gets the phone number)."""
    try:
        with store_session() as session:
            requested = service.request_handoff(
                session,
                tracker.sender_id,
                reason,
                get_settings(),
                customer_id=customer_of(session, tracker),
                note=latest_text(tracker),
            )
            reference = requested.handoff.reference
            text = requested.text
    except StoreError:
        logger.exception("queueing a handoff failed")
        dispatcher.utter_message(text=messages.HANDOFF_UNAVAILABLE)
        return None
    logger.info("handoff %s (%s) for conversation %s", reference, reason, tracker.sender_id)
    dispatcher.utter_message(text=text)
    return reference


def reason_of(tracker: Tracker) -> Reason:
    if (
        tracker.get_slot("blocked_reason") == "safety"
        or tone_of(latest_text(tracker)) is Tone.safety
    ):
        return Reason.threat
    return Reason.asked


class ActionHandoff(Action):
    """The customer asked for a person (or accepted the offer of one)."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hand_over(dispatcher, tracker, reason_of(tracker))
        return []
