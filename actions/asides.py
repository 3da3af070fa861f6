"""Questions asked in the middle of a complaint ("where is it now?", "do I need the box?"):
answered, then the form asks its question again and goes on where it was.

The parcel the complaint is about stays the same even when the question names another one;
until the form has a parcel, a number in the question becomes it (and is checked like an
answer).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import is_aside, latest_intent, slot_before_latest_message
from actions.knowledge import ActionAnswerQuestion
from actions.store import StoreError, store_session
from actions.tracking import as_candidates, report_parcels

logger = logging.getLogger(__name__)

WHICH_PARCEL = (
    "I'll gladly look a parcel up: which tracking number? (You can also ask me once we've "
    "finished here.)"
)
BACK_TO_COMPLAINT = "Now, back to your complaint."


class ActionAnswerAside(Action):
    def name(self) -> str:
        return "action_answer_aside"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        before = slot_before_latest_message(tracker, "tracking_number")
        keep = before or tracker.get_slot("tracking_number")
        # Re-set last, so the form checks the parcel it goes on with.
        events: list[EventType] = [SlotSet("tracking_numbers", None)]
        if keep:
            events.append(SlotSet("tracking_number", keep))
        if not is_aside(tracker):
            return events  # a tracking number given when the form asked for one
        if latest_intent(tracker) == "track_shipment":
            self.track(dispatcher, tracker, before)
        else:
            await self.answer(dispatcher, tracker)
        dispatcher.utter_message(text=BACK_TO_COMPLAINT)
        logger.info("answered an aside (%s) during a complaint", latest_intent(tracker))
        return events

    @staticmethod
    def track(dispatcher: CollectingDispatcher, tracker: Tracker, before: str | None) -> None:
        numbers = as_candidates(tracker.get_slot("tracking_numbers"))
        if not numbers and before:
            numbers = [before]  # "where is it now?": the parcel the complaint is about
        if not numbers:
            dispatcher.utter_message(text=WHICH_PARCEL)
            return
        try:
            with store_session() as session:
                report_parcels(dispatcher, session, numbers, datetime.now(UTC))
        except StoreError:
            logger.exception("tracking look-up during a complaint failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)

    @staticmethod
    async def answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        try:
            await asyncio.to_thread(ActionAnswerQuestion().answer, dispatcher, tracker, True)
        except Exception:
            logger.exception("knowledge search during a complaint failed")
            dispatcher.utter_message(text=messages.KNOWLEDGE_UNAVAILABLE)
