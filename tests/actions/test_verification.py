from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.verification import ActionShowDeliveryDetails, ValidateVerificationForm
from backend.store.models import Shipment
from tests.actions.conftest import make_tracker, slot_events, texts


def last4(shipment: Shipment) -> str:
    return "".join(ch for ch in shipment.consignee_phone if ch.isdigit())[-4:]


def wrong4(shipment: Shipment) -> str:
    return f"{(int(last4(shipment)) + 1) % 10_000:04d}"


async def answer_phone(
    shipment: Shipment, digits: str, domain: dict[str, Any], slots: dict[str, Any] | None = None
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    tracker = make_tracker(
        text=digits,
        slots={
            "tracking_number": shipment.tracking_number,
            "requested_slot": "phone_last4",
            **(slots or {}),
        },
        new_slots={"phone_last4": digits},
        active_loop="verification_form",
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateVerificationForm().run(dispatcher, tracker, domain)
    return dispatcher, slot_events(events)


async def test_known_shipment_asks_for_proof(in_transit: Shipment, domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text=f"who is {in_transit.tracking_number} addressed to",
        intent="show_delivery_details",
        new_slots={"tracking_number": in_transit.tracking_number},
    )
    dispatcher = CollectingDispatcher()
    slots = slot_events(await ValidateVerificationForm().run(dispatcher, tracker, domain))
    assert texts(dispatcher) == []
    assert slots["tracking_number"] == in_transit.tracking_number
    # Nothing blocks the form; Rasa asks for the next empty slot, the proof.
    assert "blocked_reason" not in slots and "requested_slot" not in slots


async def test_right_digits_verify_without_keeping_them(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    dispatcher, slots = await answer_phone(in_transit, f"it ends in {last4(in_transit)}", domain)
    assert texts(dispatcher) == []
    assert slots["verified_numbers"] == [in_transit.tracking_number]
    assert slots["phone_last4"] == "verified"
    assert slots["requested_slot"] is None


async def test_details_are_shown_only_when_verified(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    action = ActionShowDeliveryDetails()
    unverified = CollectingDispatcher()
    await action.run(
        unverified, make_tracker(slots={"tracking_number": in_transit.tracking_number}), domain
    )
    assert not any(in_transit.consignee_address in t for t in texts(unverified))

    verified = CollectingDispatcher()
    events = await action.run(
        verified,
        make_tracker(slots={"tracking_number": in_transit.tracking_number,
                            "verified_numbers": [in_transit.tracking_number]}),
        domain,
    )  # fmt: skip
    [said] = texts(verified)
    assert in_transit.consignee_address in said and in_transit.consignee_name in said
    assert slot_events(events)["phone_last4"] is None


async def test_three_wrong_proofs_lock_the_shipment(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    attempts: dict[str, int] = {}
    for expected_left in (2, 1):
        dispatcher, slots = await answer_phone(
            in_transit, wrong4(in_transit), domain, {"verification_attempts": attempts}
        )
        plural = "" if expected_left == 1 else "s"
        assert texts(dispatcher) == [
            messages.PHONE_MISMATCH.format(left=expected_left, plural=plural)
        ]
        attempts = slots["verification_attempts"]
    dispatcher, slots = await answer_phone(
        in_transit, wrong4(in_transit), domain, {"verification_attempts": attempts}
    )
    assert texts(dispatcher) == [
        messages.PHONE_LOCKED_NOW.format(number=in_transit.tracking_number)
    ]
    assert slots["blocked_reason"] == "locked" and slots["requested_slot"] is None

    # Even the right digits do nothing now, and asking again is refused at once.
    tracker = make_tracker(
        text="show me the address",
        intent="show_delivery_details",
        slots={"verification_attempts": slots["verification_attempts"]},
        new_slots={"tracking_number": in_transit.tracking_number},
    )
    dispatcher = CollectingDispatcher()
    again = slot_events(await ValidateVerificationForm().run(dispatcher, tracker, domain))
    assert texts(dispatcher) == [messages.LOCKED.format(number=in_transit.tracking_number)]
    assert again["blocked_reason"] == "locked"


async def test_not_four_digits_is_asked_again_without_counting(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    for answer in ("why do you need that?", "12345", "12 34"):
        dispatcher, slots = await answer_phone(in_transit, answer, domain)
        assert texts(dispatcher) == [messages.PHONE_FORMAT]
        assert "verification_attempts" not in slots
