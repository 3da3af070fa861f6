"""Questions about the service, answered from the knowledge base (``knowledge/``).

The answer is the best passage's most relevant sentences with its title named as the source,
plus at most two related titles as buttons. Below the index's calibrated threshold the user
hears "I'm not sure", the closest titles and an offer of a person: nothing is made up. A parcel
number in the question is kept: the user is offered to track it (and, for damage, loss or
complaints, a person), with the number already filled in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import entity_value, latest_text
from actions.handoff import hand_over
from actions.open_complaints import remind_of_open_complaint
from actions.store import StoreError, store_session
from actions.suggestions import FALLBACK_INTENT, suggestion
from backend.handoff.models import Reason
from backend.store import queries, tracking_numbers
from knowledge import SearchResult, get_index
from knowledge.index import preload

logger = logging.getLogger(__name__)

# The action server loads the index once, in the background, as it starts: in the Sanic
# worker that serves (its manager process imports the actions too but never answers, and a
# second copy of torch and the encoder there cost about 450 MB).
if os.environ.get("SANIC_WORKER_NAME"):
    preload()

MAX_RELATED = 2
# Related titles are offered only when they are nearly as relevant as an answer would be.
RELATED_MARGIN = 0.12
# Below the threshold, titles scoring at least this are shown as "closest" suggestions.
CLOSEST_FLOOR = 0.25
# Topics after which a parcel number in the question leads to a person who can act on it.
PROBLEM_TOPICS = frozenset(
    {
        "claims-damage-loss",
        "compensation-refunds",
        "complaint-process",
        "proof-of-delivery-signature",
    }
)
ANSWER_PAYLOAD = "/ask_question"
# Anything shaped like a tracking number, however it is spaced (LP 482 913 075 GB).
_NUMBER_LIKE = re.compile(r"\b[A-Za-z]{2}[\s-]?(?:\d[\s-]?){9}[A-Za-z]{2}\b")


def question_button(passage_id: str, title: str) -> dict[str, str]:
    payload = f"{ANSWER_PAYLOAD}{json.dumps({'knowledge_id': passage_id})}"
    return {"title": title, "payload": payload}


def parcel_in(text: str) -> str | None:
    """The first valid tracking number mentioned in the question, if any."""
    for candidate in tracking_numbers.find_candidates(text):
        checked = tracking_numbers.validate(candidate)
        if checked.ok:
            return checked.number
    return None


def without_numbers(text: str) -> str:
    """The question without tracking numbers, which only distract the ranking."""
    return " ".join(_NUMBER_LIKE.sub(" ", text).split())


def misunderstood_twice(tracker: Tracker) -> bool:
    """This message and the customer's one before it both fell back (NLU could not place them)."""
    if (tracker.latest_message.get("intent") or {}).get("name") != FALLBACK_INTENT:
        return False
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) < 2:
        return False
    previous = (users[-2].get("parse_data") or {}).get("intent") or {}
    return previous.get("name") == FALLBACK_INTENT


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # Loading (once) and searching are CPU work: off the action server's event loop.
        try:
            return await asyncio.to_thread(self.answer, dispatcher, tracker)
        except Exception:
            logger.exception("knowledge search failed")
            dispatcher.utter_message(text=messages.KNOWLEDGE_UNAVAILABLE)
            return [SlotSet("offer_human", True)]

    def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, aside: bool = False
    ) -> list[EventType]:
        """Answer the latest message; `aside`: asked in the middle of a form, so no buttons
        leading elsewhere and the parcel the form is about is left alone."""
        index = get_index()
        text = latest_text(tracker)
        chosen = entity_value(tracker, "knowledge_id")
        if chosen and chosen in index.by_id:
            passage = index.by_id[chosen]
            dispatcher.utter_message(
                text=messages.KNOWLEDGE_ANSWER.format(answer=passage.text, title=passage.title)
            )
            return [SlotSet("offer_human", False)]

        number = parcel_in(text)
        question = without_numbers(text) if number else text
        result = index.search(question, k=MAX_RELATED + 3)
        logger.info(
            "question answered=%s reason=%s top=%s",
            result.confident,
            result.reason,
            result.hits[0].id if result.hits else None,
        )
        # What the shipper probably meant, when the NLU was unsure but had a parcel task in
        # mind; never in the middle of a form, which the shipper is busy with.
        guess = (
            None
            if aside
            else suggestion(tracker.latest_message, number, entity_value(tracker, "ticket_id"))
        )
        if not result.confident:
            if not aside and misunderstood_twice(tracker):
                # Two messages in a row the bot could not place: a person, not a third guess.
                hand_over(dispatcher, tracker, Reason.not_understood)
                return [SlotSet("offer_human", False)]
            if guess:
                return self.did_you_mean(dispatcher, result, guess, number)
            return self.not_sure(dispatcher, result, None if aside else number)

        best = result.hits[0]
        sentences = index.best_sentences(question, best.id)
        buttons = [
            question_button(hit.id, hit.title)
            for hit in result.hits[1:]
            if hit.score >= best.score - RELATED_MARGIN
        ][:MAX_RELATED]
        events: list[EventType] = [SlotSet("offer_human", False)]
        if aside:
            dispatcher.utter_message(
                text=messages.KNOWLEDGE_ANSWER.format(answer=" ".join(sentences), title=best.title)
            )
            return events
        if guess:
            buttons.append(guess)
        if number:
            buttons += self.parcel_buttons(number, best.topic)
            events.append(SlotSet("tracking_number", number))
        buttons = list({button["payload"]: button for button in buttons}.values())
        dispatcher.utter_message(
            text=messages.KNOWLEDGE_ANSWER.format(answer=" ".join(sentences), title=best.title),
            buttons=buttons,
        )
        if number:
            events += self.remind(dispatcher, tracker, number)
        return events

    @staticmethod
    def remind(dispatcher: CollectingDispatcher, tracker: Tracker, number: str) -> list[EventType]:
        """An open complaint about the parcel in the question is mentioned once."""
        try:
            with store_session() as session:
                shipment = queries.find_shipment(session, number)
                if shipment is None or shipment.id is None:
                    return []
                return remind_of_open_complaint(dispatcher, session, tracker, [shipment.id])
        except StoreError:
            logger.exception("open complaint look-up failed")
            return []

    @staticmethod
    def parcel_buttons(number: str, topic: str) -> list[dict[str, str]]:
        entity = json.dumps({"tracking_number": number})
        buttons = [{"title": f"Track {number}", "payload": f"/track_shipment{entity}"}]
        if topic in PROBLEM_TOPICS:
            # The rule answered, the way on: a complaint about this parcel, or a person.
            buttons.append(
                {"title": f"File a complaint about {number}", "payload": f"/file_complaint{entity}"}
            )
            buttons.append(
                {"title": f"Talk to our team about {number}", "payload": "/human_handoff"}
            )
        return buttons

    @staticmethod
    def did_you_mean(
        dispatcher: CollectingDispatcher,
        result: SearchResult,
        guess: dict[str, str],
        number: str | None,
    ) -> list[EventType]:
        """The likely task first, then the closest knowledge titles; the buttons are the
        question, so no person is offered on top of them."""
        closest = [h for h in result.hits if h.score >= CLOSEST_FLOOR][:MAX_RELATED]
        buttons = [guess] + [question_button(h.id, h.title) for h in closest]
        which = "this" if len(buttons) == 1 else "one of these"
        dispatcher.utter_message(
            text=messages.KNOWLEDGE_DID_YOU_MEAN.format(which=which), buttons=buttons
        )
        events: list[EventType] = [SlotSet("offer_human", False)]
        if number:
            events.append(SlotSet("tracking_number", number))
        return events

    @staticmethod
    def not_sure(
        dispatcher: CollectingDispatcher, result: SearchResult, number: str | None
    ) -> list[EventType]:
        events: list[EventType] = [SlotSet("offer_human", True)]
        if number:
            events.append(SlotSet("tracking_number", number))
        if result.reason == "not_english":
            dispatcher.utter_message(text=messages.KNOWLEDGE_NOT_ENGLISH)
            return events
        closest = [h for h in result.hits if h.score >= CLOSEST_FLOOR][:MAX_RELATED]
        if closest:
            dispatcher.utter_message(
                text=messages.KNOWLEDGE_NOT_SURE_CLOSEST,
                buttons=[question_button(h.id, h.title) for h in closest],
            )
        else:
            dispatcher.utter_message(text=messages.KNOWLEDGE_NOT_SURE)
        return events
