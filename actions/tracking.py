"""Tracking: collect one or more tracking numbers, then say where each parcel is."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from actions import messages
from actions.forms import (
    OFFER_HUMAN_AFTER,
    EndsWhenBlocked,
    is_answer,
    latest_text,
    reset_form_state,
)
from actions.open_complaints import remind_of_open_complaint
from actions.store import StoreError, store_session
from backend.store import queries, tracking_numbers
from backend.tracking import describe, summarise

logger = logging.getLogger(__name__)

MAX_NUMBERS_PER_REQUEST = 5
# Malformed numbers tolerated in one request before a person is offered.
MAX_INVALID_ATTEMPTS = 2


def as_candidates(value: Any) -> list[str]:
    """Slot values arrive as a list of entity spans or as free text; normalise both."""
    raw = value if isinstance(value, list) else [value]
    seen: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            continue
        found = tracking_numbers.find_candidates(item) or [tracking_numbers.normalise(item)]
        seen.extend(n for n in found if n not in seen)
    return seen


class ValidateTrackingForm(EndsWhenBlocked):
    def name(self) -> str:
        return "validate_tracking_form"

    async def extract_tracking_numbers(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        # The regex extractor already caught well-formed numbers; this catches near
        # misses and answers with no number at all, so the user hears what is wrong.
        if not is_answer(tracker, "tracking_numbers") or tracker.get_slot("tracking_numbers"):
            return {}
        return {"tracking_numbers": tracking_numbers.find_candidates(latest_text(tracker))}

    def validate_tracking_numbers(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        candidates = as_candidates(value)
        if len(candidates) > MAX_NUMBERS_PER_REQUEST:
            dispatcher.utter_message(
                text=messages.TOO_MANY_NUMBERS.format(limit=MAX_NUMBERS_PER_REQUEST)
            )
            candidates = candidates[:MAX_NUMBERS_PER_REQUEST]
        checked = [tracking_numbers.validate(c) for c in candidates]
        valid = [c.number for c in checked if c.ok]
        for bad in (c for c in checked if not c.ok):
            dispatcher.utter_message(text=f"{bad.number}: {bad.problem}")
        if valid:
            return {"tracking_numbers": valid}
        if not candidates:
            dispatcher.utter_message(text=messages.NO_NUMBER_FOUND)
        attempts = int(tracker.get_slot("tracking_attempts") or 0) + 1
        if attempts >= MAX_INVALID_ATTEMPTS:
            dispatcher.utter_message(text=messages.STILL_INVALID)
            return {
                "tracking_numbers": None,
                "tracking_attempts": attempts,
                "blocked_reason": "invalid",
            }
        return {"tracking_numbers": None, "tracking_attempts": attempts}


@dataclass
class Reported:
    found: list[str] = field(default_factory=list)
    found_ids: list[int] = field(default_factory=list)
    unknown: bool = False


def report_parcels(
    dispatcher: CollectingDispatcher, session: Session, numbers: list[str], now: datetime
) -> Reported:
    """Say for every number: status, last scan, ETA, apology when late (or that it's unknown)."""
    reported = Reported()
    for number in numbers:
        shipment = queries.find_shipment(session, number)
        if shipment is None or shipment.id is None:
            reported.unknown = True
            dispatcher.utter_message(text=messages.UNKNOWN_NUMBER.format(number=number))
            continue
        history = queries.shipment_events(session, shipment.id)
        dispatcher.utter_message(text=describe(summarise(shipment, history, now), now))
        reported.found.append(number)
        reported.found_ids.append(shipment.id)
    return reported


class ActionTrackShipment(Action):
    """Answers for every validated number, and mentions an open complaint about one once."""

    def name(self) -> str:
        return "action_track_shipment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        blocked = tracker.get_slot("blocked_reason")
        if blocked:
            return reset_form_state(offer_human=blocked in OFFER_HUMAN_AFTER)
        numbers = as_candidates(tracker.get_slot("tracking_numbers"))
        try:
            with store_session() as session:
                reported = report_parcels(dispatcher, session, numbers, datetime.now(UTC))
                noted = remind_of_open_complaint(dispatcher, session, tracker, reported.found_ids)
        except StoreError:
            logger.exception("tracking look-up failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return reset_form_state()
        logger.info("tracked %d number(s), %d found", len(numbers), len(reported.found))
        events = reset_form_state(offer_human=reported.unknown) + noted
        if reported.found:
            events.append(SlotSet("tracking_number", reported.found[0]))
        return events
