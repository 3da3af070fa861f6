from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.tracking import ActionTrackShipment, ValidateTrackingForm
from backend.config import get_settings
from backend.store import tracking_numbers
from backend.store.models import Shipment
from tests.actions.conftest import make_tracker, slot_events, texts

UNKNOWN = tracking_numbers.make("LP", 99_999_999)  # valid check digit, never seeded


def bad_check_digit(number: str) -> str:
    wrong = (int(number[10]) + 1) % 10
    return number[:10] + str(wrong) + number[11:]


async def validate(
    tracker: Any, domain: dict[str, Any]
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateTrackingForm().run(dispatcher, tracker, domain)
    return dispatcher, slot_events(events)


async def track(
    slots: dict[str, Any], domain: dict[str, Any]
) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionTrackShipment().run(dispatcher, make_tracker(slots=slots), domain)
    return dispatcher, events


async def test_known_number_gets_status_and_becomes_the_current_shipment(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    dispatcher, events = await track({"tracking_numbers": [in_transit.tracking_number]}, domain)
    [answer] = texts(dispatcher)
    assert in_transit.tracking_number in answer
    assert "addressed" not in answer and in_transit.consignee_phone not in answer
    slots = slot_events(events)
    assert slots["tracking_number"] == in_transit.tracking_number
    assert slots["tracking_numbers"] is None and slots["tracking_attempts"] == 0
    assert slots["offer_human"] is False


async def test_two_numbers_get_two_answers(
    in_transit: Shipment, delivered: Shipment, domain: dict[str, Any]
) -> None:
    numbers = [in_transit.tracking_number, delivered.tracking_number.lower()]
    dispatcher, _ = await track({"tracking_numbers": numbers}, domain)
    answers = texts(dispatcher)
    assert len(answers) == 2
    assert in_transit.tracking_number in answers[0]
    assert delivered.tracking_number in answers[1] and "deliver" in answers[1].lower()


async def test_unknown_number_is_said_and_a_person_offered(domain: dict[str, Any]) -> None:
    dispatcher, events = await track({"tracking_numbers": [UNKNOWN]}, domain)
    assert texts(dispatcher) == [messages.UNKNOWN_NUMBER.format(number=UNKNOWN)]
    assert slot_events(events)["offer_human"] is True


async def test_spaced_lower_case_number_is_accepted(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    n = in_transit.tracking_number.lower()
    spaced = f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:11]} {n[11:]}"
    tracker = make_tracker(text=f"track {spaced}", intent="track_shipment",
                           new_slots={"tracking_numbers": [spaced]})  # fmt: skip
    dispatcher, slots = await validate(tracker, domain)
    assert texts(dispatcher) == []
    assert slots["tracking_numbers"] == [in_transit.tracking_number]


async def test_bad_check_digit_is_explained_then_a_person_offered(
    in_transit: Shipment, domain: dict[str, Any]
) -> None:
    wrong = bad_check_digit(in_transit.tracking_number)
    first = make_tracker(
        text=wrong, new_slots={"tracking_numbers": [wrong]}, active_loop="tracking_form"
    )
    dispatcher, slots = await validate(first, domain)
    assert "check digit" in texts(dispatcher)[0]
    assert slots["tracking_numbers"] is None and slots["tracking_attempts"] == 1
    assert "blocked_reason" not in slots

    second = make_tracker(
        text=wrong,
        slots={"tracking_attempts": 1, "requested_slot": "tracking_numbers"},
        new_slots={"tracking_numbers": [wrong]},
        active_loop="tracking_form",
    )
    dispatcher, slots = await validate(second, domain)
    assert texts(dispatcher)[-1] == messages.STILL_INVALID
    assert slots["blocked_reason"] == "invalid"
    assert slots["requested_slot"] is None  # the form ends

    dispatcher, events = await track({"blocked_reason": "invalid", "tracking_attempts": 2}, domain)
    assert texts(dispatcher) == []
    assert slot_events(events)["offer_human"] is True
    assert slot_events(events)["blocked_reason"] is None


async def test_answer_without_a_number_is_caught_when_asked(domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text="I don't have it to hand, it's the blue box",
        slots={"requested_slot": "tracking_numbers"},
        active_loop="tracking_form",
    )
    dispatcher, slots = await validate(tracker, domain)
    assert texts(dispatcher) == [messages.NO_NUMBER_FOUND]
    assert slots["tracking_attempts"] == 1


async def test_near_miss_in_free_text_gets_its_problem(domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text="the number is LP 4829 1307 GB I think",
        slots={"requested_slot": "tracking_numbers"},
        active_loop="tracking_form",
    )
    dispatcher, slots = await validate(tracker, domain)
    said = " ".join(texts(dispatcher))
    assert "digits" in said
    assert slots["tracking_numbers"] is None


async def test_interruptions_are_left_to_the_rules(domain: dict[str, Any]) -> None:
    tracker = make_tracker(
        text="no forget it", intent="deny",
        slots={"requested_slot": "tracking_numbers"}, active_loop="tracking_form",
    )  # fmt: skip
    dispatcher, slots = await validate(tracker, domain)
    assert texts(dispatcher) == [] and "tracking_numbers" not in slots


async def test_store_down_gets_an_apology(
    in_transit: Shipment, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    get_settings.cache_clear()
    dispatcher, _ = await track({"tracking_numbers": [in_transit.tracking_number]}, domain)
    assert texts(dispatcher) == [messages.STORE_DOWN]
