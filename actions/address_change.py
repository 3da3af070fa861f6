"""Redirecting an undelivered shipment to a new address, after proof of identity."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import reset_form_state
from actions.store import StoreError, store_session
from actions.verification import ShipmentAccessForm, finish_blocked, is_verified
from backend.store import queries
from backend.store.models import Shipment

logger = logging.getLogger(__name__)

# UK postcodes (e.g. LS1 4AB, SW1A 1AA); the carrier delivers in the UK only.
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
MIN_ADDRESS_CHARS = 10
MAX_ADDRESS_CHARS = 200


class ValidateAddressChangeForm(ShipmentAccessForm):
    def name(self) -> str:
        return "validate_address_change_form"

    def refusal(self, shipment: Shipment) -> str | None:
        return queries.address_change_refusal(shipment)

    def validate_new_address(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        address = " ".join(str(value or "").split())
        if len(address) > MAX_ADDRESS_CHARS:
            dispatcher.utter_message(text=messages.ADDRESS_TOO_LONG)
            return {"new_address": None}
        if len(address) < MIN_ADDRESS_CHARS:
            dispatcher.utter_message(text=messages.ADDRESS_TOO_SHORT)
            return {"new_address": None}
        if not _POSTCODE.search(address):
            dispatcher.utter_message(text=messages.ADDRESS_NO_POSTCODE)
            return {"new_address": None}
        return {"new_address": address}


class ActionSubmitAddressChange(Action):
    def name(self) -> str:
        return "action_submit_address_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        closing = finish_blocked(tracker)
        if closing is not None:
            return closing
        number = tracker.get_slot("tracking_number")
        address = tracker.get_slot("new_address")
        if not is_verified(tracker, number) or not address:
            dispatcher.utter_message(text=messages.PHONE_FORMAT)
            return reset_form_state()
        try:
            with store_session() as session:
                shipment = queries.find_shipment(session, number)
                if shipment is None:
                    dispatcher.utter_message(text=messages.UNKNOWN_NUMBER.format(number=number))
                    return reset_form_state()
                try:
                    request = queries.request_address_change(
                        session, shipment, address, conversation_id=tracker.sender_id
                    )
                except queries.AddressChangeNotAllowed as refused:
                    dispatcher.utter_message(text=str(refused))
                    return reset_form_state()
                request_id = request.id
        except StoreError:
            logger.exception("address change failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return reset_form_state()
        logger.info("address change %s recorded", request_id)
        dispatcher.utter_message(
            text=messages.ADDRESS_CHANGED.format(
                number=number, address=address, request_id=request_id
            )
        )
        return reset_form_state()
