"""action_answer_question: answers from the knowledge index, or says it is not sure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.knowledge import MAX_RELATED, ActionAnswerQuestion, parcel_in, without_numbers
from backend.store import tracking_numbers
from tests.actions.conftest import make_tracker, slot_events
from tests.knowledge.support import session_index_dir

NUMBER = tracking_numbers.make("EE", 12_345_678)


@pytest.fixture(autouse=True)
def knowledge_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(session_index_dir()))


async def answer(
    text: str, domain: dict[str, Any], entities: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, intent="ask_question", entities=entities)
    events = await ActionAnswerQuestion().run(dispatcher, tracker, domain)
    return dispatcher.messages, slot_events(events)


async def test_an_answer_is_a_few_sentences_with_its_source(domain: dict[str, Any]) -> None:
    said, slots = await answer("how long do I have to report damage?", domain)
    assert len(said) == 1
    text = said[0]["text"]
    assert "7 days" in text
    assert text.endswith("(Source: Deadlines for claims)")
    body = text.split("\n\n(Source:")[0]
    assert body.count(". ") + 1 <= 2, "at most two sentences, not the whole passage"
    assert slots == {"offer_human": False}


async def test_at_most_two_related_titles_are_offered(domain: dict[str, Any]) -> None:
    said, _ = await answer("what do I do if my parcel is lost", domain)
    buttons = said[0].get("buttons") or []
    assert len(buttons) <= MAX_RELATED
    for button in buttons:
        assert button["payload"].startswith("/ask_question{")
        assert json.loads(button["payload"][len("/ask_question") :])["knowledge_id"]


async def test_a_related_title_button_answers_that_passage(domain: dict[str, Any]) -> None:
    entities = [{"entity": "knowledge_id", "value": "cod-remittance"}]
    said, slots = await answer('/ask_question{"knowledge_id": "cod-remittance"}', domain, entities)
    assert "every week" in said[0]["text"]
    assert said[0]["text"].endswith("(Source: When the sender receives cash-on-delivery money)")
    assert slots == {"offer_human": False}


async def test_not_sure_gives_the_closest_titles_and_offers_a_person(
    domain: dict[str, Any],
) -> None:
    said, slots = await answer("can you recommend a good dentist near me", domain)
    assert said[0]["text"] in (messages.KNOWLEDGE_NOT_SURE_CLOSEST, messages.KNOWLEDGE_NOT_SURE)
    assert len(said[0].get("buttons") or []) <= MAX_RELATED
    assert slots["offer_human"] is True


@pytest.mark.parametrize(
    "text", ["blorp zzz qwerty", "¿cuánto cuesta enviar un paquete a Madrid?", "我的包裹在哪里"]
)
async def test_nonsense_and_other_languages_get_a_polite_refusal(
    text: str, domain: dict[str, Any]
) -> None:
    said, slots = await answer(text, domain)
    assert len(said) == 1
    assert said[0]["text"] == messages.KNOWLEDGE_NOT_ENGLISH
    assert not said[0].get("buttons")
    assert slots["offer_human"] is True


async def test_a_parcel_and_a_rule_answers_the_rule_and_keeps_the_number(
    domain: dict[str, Any],
) -> None:
    entities = [{"entity": "tracking_number", "value": NUMBER}]
    said, slots = await answer(f"my parcel {NUMBER} was damaged, how do I claim?", domain, entities)
    assert "(Source: How to make a claim for a damaged or lost parcel)" in said[0]["text"]
    payloads = [b["payload"] for b in said[0]["buttons"]]
    assert f'/track_shipment{{"tracking_number": "{NUMBER}"}}' in payloads
    assert "/human_handoff" in payloads
    assert slots == {"offer_human": False, "tracking_number": NUMBER}


async def test_a_parcel_with_a_general_rule_offers_tracking_only(domain: dict[str, Any]) -> None:
    said, slots = await answer(f"do you deliver {NUMBER} on saturday?", domain)
    payloads = [b["payload"] for b in said[0]["buttons"]]
    assert f'/track_shipment{{"tracking_number": "{NUMBER}"}}' in payloads
    assert "/human_handoff" not in payloads
    assert slots["tracking_number"] == NUMBER


async def test_a_broken_index_gets_an_apology_and_a_person(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise OSError("index missing")

    monkeypatch.setattr("actions.knowledge.get_index", broken)
    said, slots = await answer("how much is express", domain)
    assert said[0]["text"] == messages.KNOWLEDGE_UNAVAILABLE
    assert slots == {"offer_human": True}


def test_numbers_are_found_and_removed_from_the_question() -> None:
    spaced = f"{NUMBER[:2]} {NUMBER[2:5]} {NUMBER[5:8]} {NUMBER[8:11]} {NUMBER[11:]}".lower()
    assert parcel_in(f"claim for {spaced} please") == NUMBER
    assert without_numbers(f"claim for {spaced} please") == "claim for please"
    assert parcel_in("claim for LP482913076GB") is None  # wrong check digit


def test_the_action_is_in_the_domain(domain: dict[str, Any]) -> None:
    assert "action_answer_question" in domain["actions"]
    assert "ask_question" in domain["intents"]
    assert "knowledge_id" in domain["entities"]


async def overruled(
    text: str, best: str, confidence: float, domain: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The action's answer to a message the FallbackClassifier overruled."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.75},
        {"name": best, "confidence": confidence},
    ]
    events = await ActionAnswerQuestion().run(dispatcher, tracker, domain)
    return dispatcher.messages, slot_events(events)


async def test_an_unsure_parcel_task_is_offered_not_started(domain: dict[str, Any]) -> None:
    text = f"the postcode on {NUMBER} is wrong, make it BS8 1TH please"
    said, slots = await overruled(text, "change_delivery_address", 0.6, domain)
    assert len(said) == 1
    assert said[0]["text"].startswith("I'm not sure I understood that, so I haven't done anything")
    first = said[0]["buttons"][0]
    assert first["payload"] == f'/change_delivery_address{{"tracking_number": "{NUMBER}"}}'
    # The buttons are the question: no "would you like a person?" on top of them.
    assert slots == {"offer_human": False, "tracking_number": NUMBER}


async def test_an_unsure_off_topic_reading_still_gets_not_sure(domain: dict[str, Any]) -> None:
    said, slots = await overruled("can you recommend a good dentist", "greet", 0.6, domain)
    assert said[0]["text"] in (messages.KNOWLEDGE_NOT_SURE_CLOSEST, messages.KNOWLEDGE_NOT_SURE)
    assert slots["offer_human"] is True


async def test_a_knowledge_answer_to_an_unsure_message_also_offers_the_task(
    domain: dict[str, Any],
) -> None:
    said, _ = await overruled("how long do I have to report damage?", "file_complaint", 0.6, domain)
    assert "(Source: Deadlines for claims)" in said[0]["text"]
    assert {"title": "Make a complaint or claim", "payload": "/file_complaint"} in said[0][
        "buttons"
    ]
