"""Proof of identity before a shipment's personal details are shown or changed.

Status and scans are public by tracking number; the consignee's name, address and phone
are not. The user proves a right to them with the last four digits of the consignee's
phone; three wrong answers lock that shipment's details for the conversation.
"""

from __future__ import annotations

import logging
import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from actions import messages
from actions.forms import OFFER_HUMAN_AFTER, is_answer, latest_text, reset_form_state
from actions.open_complaints import remind_of_open_complaint
from actions.store import StoreError, store_session
from backend.store import queries, tracking_numbers
from backend.store.models import Shipment

logger = logging.getLogger(__name__)

MAX_PROOF_ATTEMPTS = 3
MAX_INVALID_ATTEMPTS = 2
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")


def phone_tail(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-4:]


def is_verified(tracker: Tracker, number: str | None) -> bool:
    return bool(number) and number in (tracker.get_slot("verified_numbers") or [])


def is_locked(tracker: Tracker, number: str | None) -> bool:
    attempts = tracker.get_slot("verification_attempts") or {}
    return bool(number) and attempts.get(number, 0) >= MAX_PROOF_ATTEMPTS


class ShipmentAccessForm(FormValidationAction):
    """A form about one shipment's personal details: number, proof, then its own slots."""

    @abstractmethod
    def name(self) -> str: ...

    def refusal(self, shipment: Shipment) -> str | None:
        """Why this form cannot go on for this shipment, in the user's words (None: it can)."""
        return None

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.get_slot("blocked_reason"):
            return []
        if is_verified(tracker, tracker.get_slot("tracking_number")):
            return [slot for slot in domain_slots if slot != "phone_last4"]
        return domain_slots

    async def extract_tracking_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if not is_answer(tracker, "tracking_number") or tracker.get_slot("tracking_number"):
            return {}
        candidates = tracking_numbers.find_candidates(latest_text(tracker))
        return {"tracking_number": candidates[0] if candidates else ""}

    def validate_tracking_number(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        checked = tracking_numbers.validate(value) if isinstance(value, str) and value else None
        if checked is None or not checked.ok:
            if checked is None:
                dispatcher.utter_message(text=messages.NO_NUMBER_FOUND)
            else:
                dispatcher.utter_message(text=f"{checked.number}: {checked.problem}")
            attempts = int(tracker.get_slot("tracking_attempts") or 0) + 1
            update: dict[str, Any] = {"tracking_number": None, "tracking_attempts": attempts}
            if attempts >= MAX_INVALID_ATTEMPTS:
                dispatcher.utter_message(text=messages.STILL_INVALID)
                update["blocked_reason"] = "invalid"
            return update
        number = checked.number
        if is_locked(tracker, number):
            dispatcher.utter_message(text=messages.LOCKED.format(number=number))
            return {"tracking_number": number, "blocked_reason": "locked"}
        try:
            with store_session() as session:
                shipment = queries.find_shipment(session, number)
                refusal = self.refusal(shipment) if shipment else None
        except StoreError:
            logger.exception("shipment look-up failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return {"tracking_number": number, "blocked_reason": "store_down"}
        if shipment is None:
            dispatcher.utter_message(text=messages.UNKNOWN_NUMBER.format(number=number))
            return {"tracking_number": number, "blocked_reason": "unknown"}
        if refusal:
            dispatcher.utter_message(text=refusal)
            return {"tracking_number": number, "blocked_reason": "refused"}
        return {"tracking_number": number}

    def validate_phone_last4(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        number = tracker.get_slot("tracking_number")
        digits = _FOUR_DIGITS.findall(value) if isinstance(value, str) else []
        if len(digits) != 1:
            dispatcher.utter_message(text=messages.PHONE_FORMAT)
            return {"phone_last4": None}
        try:
            with store_session() as session:
                shipment = queries.find_shipment(session, number)
                expected = phone_tail(shipment.consignee_phone) if shipment else None
        except StoreError:
            logger.exception("verification look-up failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return {"phone_last4": None, "blocked_reason": "store_down"}
        if expected is not None and digits[0] == expected:
            logger.info("verification succeeded for a shipment")
            verified = list(tracker.get_slot("verified_numbers") or [])
            # The digits themselves are not kept: only the fact that they matched.
            return {"phone_last4": "verified", "verified_numbers": [*verified, number]}
        attempts = dict(tracker.get_slot("verification_attempts") or {})
        attempts[number] = attempts.get(number, 0) + 1
        logger.info("verification failed (%d of %d)", attempts[number], MAX_PROOF_ATTEMPTS)
        left = MAX_PROOF_ATTEMPTS - attempts[number]
        if left <= 0:
            dispatcher.utter_message(text=messages.PHONE_LOCKED_NOW.format(number=number))
            return {
                "phone_last4": None,
                "verification_attempts": attempts,
                "blocked_reason": "locked",
            }
        dispatcher.utter_message(
            text=messages.PHONE_MISMATCH.format(left=left, plural="" if left == 1 else "s")
        )
        return {"phone_last4": None, "verification_attempts": attempts}


class ValidateVerificationForm(ShipmentAccessForm):
    def name(self) -> str:
        return "validate_verification_form"


def finish_blocked(tracker: Tracker) -> list[EventType] | None:
    """Closing events for a form that ended blocked (its reason was already said)."""
    blocked = tracker.get_slot("blocked_reason")
    if not blocked:
        return None
    return reset_form_state(offer_human=blocked in OFFER_HUMAN_AFTER)


class VerifiedShipmentAction(Action):
    """Final action of a form about one shipment whose details the user has proven a right to.

    Says the blocked reason's follow-up, re-checks the proof, opens one store session and
    apologises if the store fails; subclasses only do their own work in `act`.
    """

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def act(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        shipment: Shipment,
    ) -> None: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        closing = finish_blocked(tracker)
        if closing is not None:
            return closing
        number = tracker.get_slot("tracking_number")
        if not is_verified(tracker, number):
            # Defence in depth: the form guarantees this, the action checks it again.
            dispatcher.utter_message(text=messages.PHONE_FORMAT)
            return reset_form_state()
        noted: list[EventType] = []
        try:
            with store_session() as session:
                shipment = queries.find_shipment(session, number)
                if shipment is None or shipment.id is None:
                    dispatcher.utter_message(text=messages.UNKNOWN_NUMBER.format(number=number))
                else:
                    self.act(dispatcher, tracker, session, shipment)
                    noted = remind_of_open_complaint(dispatcher, session, tracker, [shipment.id])
        except StoreError:
            logger.exception("%s failed", self.name())
            dispatcher.utter_message(text=messages.STORE_DOWN)
        return [*reset_form_state(), SlotSet("tracking_number", number), *noted]


class ActionShowDeliveryDetails(VerifiedShipmentAction):
    def name(self) -> str:
        return "action_show_delivery_details"

    def act(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        shipment: Shipment,
    ) -> None:
        dispatcher.utter_message(
            text=messages.DETAILS.format(
                number=shipment.tracking_number,
                name=shipment.consignee_name,
                address=shipment.consignee_address,
                postcode=shipment.consignee_postcode,
                city=shipment.consignee_city,
                phone=shipment.consignee_phone,
            )
        )
