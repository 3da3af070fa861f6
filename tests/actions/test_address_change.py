from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session, select

from actions.address_change import ActionSubmitAddressChange, ValidateAddressChangeForm
from backend.store.db import get_engine
from backend.store.models import AddressChangeRequest, Shipment
from tests.actions.conftest import make_tracker, slot_events, texts

NEW_ADDRESS = "Unit 4, 20 Wellington Street, Leeds LS1 4DL"


async def test_delivered_parcel_cannot_be_redirected(
    delivered: Shipment, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        text="deliver it to my office",
        intent="change_delivery_address",
        new_slots={"tracking_number": delivered.tracking_number},
    )
    dispatcher = CollectingDispatcher()
    slots = slot_events(await ValidateAddressChangeForm().run(dispatcher, tracker, domain))
    [said] = texts(dispatcher)
    assert "delivered" in said
    assert slots["blocked_reason"] == "refused" and slots["requested_slot"] is None


async def test_verified_user_is_asked_for_the_address_only(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        text="send it to my office",
        intent="change_delivery_address",
        slots={"verified_numbers": [in_transit.tracking_number]},
        new_slots={"tracking_number": in_transit.tracking_number},
    )
    dispatcher = CollectingDispatcher()
    slots = slot_events(await ValidateAddressChangeForm().run(dispatcher, tracker, domain))
    assert slots["requested_slot"] == "new_address"


async def test_address_needs_a_postcode(in_transit: Shipment, domain: dict[str, Any]) -> None:
    form = ValidateAddressChangeForm()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker()
    assert form.validate_new_address(
        "20 Wellington Street, Leeds", dispatcher, tracker, domain
    ) == {"new_address": None}
    assert "postcode" in texts(dispatcher)[0]
    assert form.validate_new_address("x" * 500 + " LS1 4DL", dispatcher, tracker, domain) == {
        "new_address": None
    }
    ok = form.validate_new_address(f"  {NEW_ADDRESS} ", dispatcher, tracker, domain)
    assert ok == {"new_address": NEW_ADDRESS}


async def test_redirect_is_recorded_once_verified(
    in_transit: Shipment, store_url: str, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        slots={
            "tracking_number": in_transit.tracking_number,
            "verified_numbers": [in_transit.tracking_number],
            "new_address": NEW_ADDRESS,
        },
        sender="conv-redirect-1",
    )
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitAddressChange().run(dispatcher, tracker, domain)
    [said] = texts(dispatcher)
    assert NEW_ADDRESS in said and "AC-" in said
    assert slot_events(events)["new_address"] is None
    with Session(get_engine(store_url)) as session:
        stored = session.exec(
            select(AddressChangeRequest).where(
                AddressChangeRequest.conversation_id == "conv-redirect-1"
            )
        ).all()
    assert [r.new_address for r in stored] == [NEW_ADDRESS]
    assert stored[0].shipment_id == in_transit.id


async def test_unverified_submit_records_nothing(
    in_transit: Shipment, store_url: str, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        slots={"tracking_number": in_transit.tracking_number, "new_address": NEW_ADDRESS},
        sender="conv-redirect-unverified",
    )
    await ActionSubmitAddressChange().run(CollectingDispatcher(), tracker, domain)
    with Session(get_engine(store_url)) as session:
        stored = session.exec(
            select(AddressChangeRequest).where(
                AddressChangeRequest.conversation_id == "conv-redirect-unverified"
            )
        ).all()
    assert stored == []
