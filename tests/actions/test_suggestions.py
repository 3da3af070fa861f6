"""actions/suggestions.py: which best readings are offered as a task, and how."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions.suggestions import SUGGEST_FLOOR, best_reading, suggestion
from backend.store import tracking_numbers

NUMBER = tracking_numbers.make("LP", 80_020_376)


def fallen_back(best: str, confidence: float, entities: list[dict[str, Any]] | None = None) -> dict:
    """A parse the FallbackClassifier overruled, as Rasa puts it in the tracker."""
    return {
        "intent": {"name": "nlu_fallback", "confidence": 0.75},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.75},
            {"name": best, "confidence": confidence},
            {"name": "ask_question", "confidence": 0.1},
        ],
        "entities": entities or [],
    }


def test_the_best_reading_is_the_classifier_own_top_intent() -> None:
    assert best_reading(fallen_back("change_delivery_address", 0.6)) == (
        "change_delivery_address",
        0.6,
    )
    sure = {"intent": {"name": "track_shipment", "confidence": 0.9}, "intent_ranking": []}
    assert best_reading(sure) is None, "only an overruled reading is a guess"


def test_a_parcel_task_is_offered_with_its_number_filled_in() -> None:
    button = suggestion(fallen_back("change_delivery_address", 0.6), NUMBER)
    assert button == {
        "title": f"Change the delivery address of {NUMBER}",
        "payload": "/change_delivery_address" + json.dumps({"tracking_number": NUMBER}),
    }
    assert suggestion(fallen_back("track_shipment", 0.6), None) == {
        "title": "Track a parcel",
        "payload": "/track_shipment",
    }


def test_a_complaint_status_keeps_its_ticket() -> None:
    ticket = [{"entity": "ticket_id", "value": "C-26-00123"}]
    button = suggestion(fallen_back("complaint_status", 0.5, ticket), None, "C-26-00123")
    assert button is not None
    assert button["payload"] == '/complaint_status{"ticket_id": "C-26-00123"}'


def test_a_bare_number_read_as_inform_is_offered_as_a_look_up() -> None:
    button = suggestion(fallen_back("inform", 0.6), NUMBER)
    assert button is not None and button["payload"].startswith("/track_shipment{")
    assert suggestion(fallen_back("inform", 0.6), None) is None


@pytest.mark.parametrize(
    "intent", ["greet", "thank", "affirm", "deny", "survey_answer", "out_of_scope", "ask_question"]
)
def test_replies_and_off_topic_readings_are_not_offered(intent: str) -> None:
    assert suggestion(fallen_back(intent, 0.7), NUMBER) is None


def test_a_weak_reading_is_not_offered() -> None:
    assert suggestion(fallen_back("file_complaint", SUGGEST_FLOOR - 0.01), None) is None
    assert suggestion(fallen_back("file_complaint", SUGGEST_FLOOR), None) is not None
