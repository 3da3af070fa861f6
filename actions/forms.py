"""Pieces every form shares: which intents interrupt a form, and how a form is stopped."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages

# Intents that break into a form rather than answer its question (handled by rules).
INTERRUPTIONS = frozenset({"deny", "human_handoff", "bot_challenge", "goodbye", "out_of_scope"})

# Questions answered in the middle of these forms, which then go on where they were.
ASIDE_INTENTS = frozenset({"track_shipment", "ask_question"})
FORMS_WITH_ASIDES = frozenset({"complaint_form"})

# Blocked reasons after which the user is offered a person.
OFFER_HUMAN_AFTER = frozenset({"invalid", "unknown"})

# Per-request form state, cleared whenever a form ends however it ends.
FORM_STATE_SLOTS = ("tracking_numbers", "phone_last4", "new_address", "blocked_reason")


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def entity_given(tracker: Tracker, entity: str) -> bool:
    return any(e.get("entity") == entity for e in tracker.latest_message.get("entities", []))


def entity_value(tracker: Tracker, entity: str) -> str | None:
    """The latest message's first value of `entity`, if it has one."""
    for found in tracker.latest_message.get("entities") or []:
        if found.get("entity") == entity and found.get("value"):
            return str(found["value"])
    return None


def is_fresh_message(tracker: Tracker) -> bool:
    """True when nothing but the form itself has acted on the latest user message: the form's
    first look at it, not its return after an interruption was answered. (Rasa lists the form's
    own run among the events it sends to the form's validation.)"""
    own = {"action_listen", (tracker.active_loop or {}).get("name")}
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "action" and event.get("name") not in own:
            return False
    return True


def is_aside(tracker: Tracker) -> bool:
    """True when the latest message is a question asked in the middle of a form that answers
    such questions (a tracking number given when the form asks for one is an answer)."""
    if (tracker.active_loop or {}).get("name") not in FORMS_WITH_ASIDES:
        return False
    intent = latest_intent(tracker)
    if intent not in ASIDE_INTENTS:
        return False
    return not (
        intent == "track_shipment" and tracker.get_slot("requested_slot") == "tracking_number"
    )


def is_answer(tracker: Tracker, slot: str) -> bool:
    """True when the latest message is the user's answer to the form asking for `slot`."""
    return (
        tracker.get_slot("requested_slot") == slot
        and latest_intent(tracker) not in INTERRUPTIONS
        and not is_aside(tracker)
    )


def slot_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest user message set anything."""
    events = list(tracker.events)
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    if not users:
        return tracker.get_slot(slot)
    value = None
    for event in events[: users[-1]]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def reset_form_state(offer_human: bool = False) -> list[EventType]:
    """Events ending a form; `offer_human` makes the rules offer a person next."""
    return [SlotSet(slot, None) for slot in FORM_STATE_SLOTS] + [
        SlotSet("tracking_attempts", 0),
        SlotSet("offer_human", offer_human),
    ]


class ActionStopForm(Action):
    """Runs after a form is cancelled: forget what the form collected, say so."""

    def name(self) -> str:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if latest_intent(tracker) == "deny":
            dispatcher.utter_message(text=messages.STOPPED)
        return reset_form_state()


class EndsWhenBlocked(FormValidationAction):
    """A form that ends at once when a validation sets `blocked_reason` (its final action
    then says why and what next)."""

    @abstractmethod
    def name(self) -> str: ...  # abstract, so the action server does not register it

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        return [] if tracker.get_slot("blocked_reason") else domain_slots
