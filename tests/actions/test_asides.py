"""action_answer_aside: a parcel tracked or a question answered in the middle of a complaint,
and the complaint form that goes on about its own parcel."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected
from rasa_sdk.executor import CollectingDispatcher

from actions.asides import BACK_TO_COMPLAINT, WHICH_PARCEL, ActionAnswerAside
from actions.complaints import ValidateComplaintForm
from backend.store.models import Shipment, ShipmentStatus
from tests.actions.conftest import make_tracker, slot_events, texts
from tests.actions.test_complaints import shipments
from tests.knowledge.support import session_index_dir

FORM = "complaint_form"


@pytest.fixture(autouse=True)
def knowledge_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(session_index_dir()))


@pytest.fixture
def two_parcels(store_url: str) -> tuple[Shipment, Shipment]:
    first, second = shipments(store_url, ShipmentStatus.in_transit, 2)
    return first, second


def mid_complaint(
    text: str,
    intent: str,
    complaint_parcel: str | None,
    requested: str = "complaint_description",
    named: str | None = None,
) -> Tracker:
    """A tracker in the complaint form after the user's message; `named` is a number in it,
    which Rasa has already put into both tracking slots."""
    new_slots = {"tracking_numbers": [named], "tracking_number": named} if named else None
    slots = {"complaint_category": "damaged", "requested_slot": requested}
    if complaint_parcel:
        slots["tracking_number"] = complaint_parcel
    tracker = make_tracker(
        text=text, intent=intent, slots=slots, new_slots=new_slots, active_loop=FORM
    )
    if complaint_parcel:  # set in an earlier turn
        tracker.events.insert(
            0, {"event": "slot", "name": "tracking_number", "value": complaint_parcel}
        )
    return tracker


async def run_aside(tracker: Tracker, domain: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerAside().run(dispatcher, tracker, domain)
    return slot_events(events), texts(dispatcher)


async def test_another_parcel_is_tracked_and_the_complaint_keeps_its_own(
    domain: dict[str, Any], two_parcels: tuple[Shipment, Shipment]
) -> None:
    complained, other = two_parcels
    tracker = mid_complaint(
        f"where is {other.tracking_number} now?",
        "track_shipment",
        complained.tracking_number,
        named=other.tracking_number,
    )
    slots, said = await run_aside(tracker, domain)
    assert other.tracking_number in said[0]
    assert complained.tracking_number not in " ".join(said)
    assert said[-1] == BACK_TO_COMPLAINT
    assert slots == {"tracking_numbers": None, "tracking_number": complained.tracking_number}
    # The last event re-sets the complaint's parcel, so the form checks what it goes on with.
    assert list(slots)[-1] == "tracking_number"


async def test_where_is_it_now_tracks_the_parcel_complained_about(
    domain: dict[str, Any], two_parcels: tuple[Shipment, Shipment]
) -> None:
    complained, _ = two_parcels
    tracker = mid_complaint("where is it now?", "track_shipment", complained.tracking_number)
    _, said = await run_aside(tracker, domain)
    assert complained.tracking_number in said[0]
    assert said[-1] == BACK_TO_COMPLAINT


async def test_no_parcel_yet_and_none_named_asks_which(domain: dict[str, Any]) -> None:
    tracker = mid_complaint("where's my parcel?", "track_shipment", None)
    slots, said = await run_aside(tracker, domain)
    assert said == [WHICH_PARCEL, BACK_TO_COMPLAINT]
    assert slots == {"tracking_numbers": None}


async def test_a_question_is_answered_with_its_source_and_nothing_leading_away(
    domain: dict[str, Any], two_parcels: tuple[Shipment, Shipment]
) -> None:
    complained, _ = two_parcels
    dispatcher = CollectingDispatcher()
    tracker = mid_complaint(
        "how long do I have to report damage?", "ask_question", complained.tracking_number
    )
    events = await ActionAnswerAside().run(dispatcher, tracker, domain)
    first = dispatcher.messages[0]
    assert "7 days" in first["text"] and "(Source: " in first["text"]
    assert not first.get("buttons")
    assert texts(dispatcher)[-1] == BACK_TO_COMPLAINT
    assert "offer_human" not in slot_events(events)


async def test_a_number_given_when_the_form_asks_for_one_is_an_answer(
    domain: dict[str, Any], two_parcels: tuple[Shipment, Shipment]
) -> None:
    _, named = two_parcels
    tracker = mid_complaint(
        named.tracking_number,
        "track_shipment",
        None,
        requested="tracking_number",
        named=named.tracking_number,
    )
    slots, said = await run_aside(tracker, domain)
    assert said == []
    assert slots["tracking_number"] == named.tracking_number


@pytest.mark.parametrize(
    ("text", "intent", "requested"),
    [
        ("do I need to keep the box?", "ask_question", "complaint_description"),
        (
            "where is my parcel, it was due on monday and I'm still waiting",
            "track_shipment",
            "complaint_description",
        ),
        ("do I need photos of it?", "ask_question", "has_photos"),
        ("is there a fee if I claim more than £100?", "ask_question", "claimed_amount"),
    ],
)
async def test_the_form_does_not_take_an_aside_as_an_answer(
    domain: dict[str, Any], text: str, intent: str, requested: str
) -> None:
    slots = {
        "complaint_category": "damaged",
        "tracking_number": "LP482913073GB",
        "complaint_description": None if requested == "complaint_description" else "crushed box",
        "claimed_amount": None if requested == "claimed_amount" else 20.0,
        "requested_slot": requested,
    }
    tracker = make_tracker(text=text, intent=intent, slots=slots, active_loop=FORM)
    # Rasa lists the form's own run among the events it sends to the form's validation.
    tracker.events.append({"event": "action", "name": FORM})
    dispatcher = CollectingDispatcher()
    # Straight after the message, the form steps aside so the rules can answer it.
    stepped_aside = await ValidateComplaintForm().run(dispatcher, tracker, domain)
    assert stepped_aside == [ActionExecutionRejected("complaint_form")]
    assert texts(dispatcher) == []
    # Back after the answer, the same message still fills nothing and the question repeats.
    tracker.events[-1:-1] = [{"event": "action", "name": "action_answer_aside"}]
    events = slot_events(await ValidateComplaintForm().run(dispatcher, tracker, domain))
    assert requested not in events or events[requested] is None
    assert events.get("requested_slot") == requested
