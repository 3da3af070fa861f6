"""The one-time reminder of an open complaint, whatever the shipper does with its parcel."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionAnswerQuestion
from actions.tracking import ActionTrackShipment
from actions.verification import ActionShowDeliveryDetails
from backend.store.models import Shipment, ShipmentStatus
from tests.actions.conftest import make_tracker, slot_events, texts
from tests.actions.test_complaints import filed_ticket, shipments
from tests.knowledge.support import session_index_dir


@pytest.fixture(autouse=True)
def knowledge_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(session_index_dir()))


@pytest.fixture(scope="module")
def returned(store_url: str) -> list[Shipment]:
    """Parcels no other test module complains about."""
    return shipments(store_url, ShipmentStatus.returned, 6)


async def test_tracking_then_a_question_mention_it_once(
    domain: dict[str, Any], returned: list[Shipment]
) -> None:
    parcel = returned[0]
    reference = await filed_ticket(domain, parcel, "filer-0")
    slots: dict[str, Any] = {"tracking_numbers": [parcel.tracking_number]}
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, sender="tracker-person")
    events = slot_events(await ActionTrackShipment().run(dispatcher, tracker, domain))
    assert reference in texts(dispatcher)[-1]
    assert events["complaints_mentioned"] == [reference]
    dispatcher = CollectingDispatcher()
    question = f"how long do I have to report damage to {parcel.tracking_number}?"
    tracker = make_tracker(question, "ask_question", slots=slots | events, sender="tracker-person")
    await ActionAnswerQuestion().run(dispatcher, tracker, domain)
    assert all(reference not in line for line in texts(dispatcher))


async def test_a_question_naming_the_parcel_mentions_it(
    domain: dict[str, Any], returned: list[Shipment]
) -> None:
    parcel = returned[1]
    reference = await filed_ticket(domain, parcel, "filer-1")
    dispatcher = CollectingDispatcher()
    question = f"how long do I have to report damage to {parcel.tracking_number}?"
    events = await ActionAnswerQuestion().run(
        dispatcher, make_tracker(question, "ask_question", sender="asker"), domain
    )
    said = texts(dispatcher)
    assert "(Source: " in said[0] and reference in said[-1]
    assert slot_events(events)["complaints_mentioned"] == [reference]


async def test_delivery_details_mention_it(
    domain: dict[str, Any], returned: list[Shipment]
) -> None:
    parcel = returned[2]
    reference = await filed_ticket(domain, parcel, "filer-2")
    slots = {
        "tracking_number": parcel.tracking_number,
        "verified_numbers": [parcel.tracking_number],
        "phone_last4": "verified",
    }
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, sender="recipient")
    events = slot_events(await ActionShowDeliveryDetails().run(dispatcher, tracker, domain))
    said = texts(dispatcher)
    assert parcel.consignee_postcode in said[0] and reference in said[-1]
    assert events["complaints_mentioned"] == [reference]


async def test_another_parcel_of_the_same_shipper_says_nothing(
    domain: dict[str, Any], store_url: str, returned: list[Shipment]
) -> None:
    parcel = returned[3]
    sibling = next(
        (s for s in shipments(store_url, ShipmentStatus.delivered, 1200)
         if s.customer_id == parcel.customer_id),
        None,
    )  # fmt: skip
    assert sibling is not None, "the seed gives every shipper several parcels"
    reference = await filed_ticket(domain, parcel, "filer-3")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"tracking_numbers": [sibling.tracking_number]}, sender="other")
    await ActionTrackShipment().run(dispatcher, tracker, domain)
    assert all(reference not in line for line in texts(dispatcher))
