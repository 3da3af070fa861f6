"""Redirecting an undelivered shipment to a new address, after proof of identity."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from actions import messages
from actions.verification import ShipmentAccessForm, VerifiedShipmentAction
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


class ActionSubmitAddressChange(VerifiedShipmentAction):
    def name(self) -> str:
        return "action_submit_address_change"

    def act(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        session: Session,
        shipment: Shipment,
    ) -> None:
        address = tracker.get_slot("new_address")
        if not address:
            dispatcher.utter_message(text=messages.ADDRESS_TOO_SHORT)
            return
        try:
            request = queries.request_address_change(
                session, shipment, address, conversation_id=tracker.sender_id
            )
        except queries.AddressChangeNotAllowed as refused:
            dispatcher.utter_message(text=str(refused))
            return
        # Committed before confirming: the user is never told of a change that was lost.
        session.commit()
        logger.info("address change %s recorded", request.id)
        dispatcher.utter_message(
            text=messages.ADDRESS_CHANGED.format(
                number=shipment.tracking_number, address=address, request_id=request.id
            )
        )
