"""action_handoff and the automatic handoff after two messages not understood."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session, select

from actions.handoff import ActionHandoff
from actions.knowledge import ActionAnswerQuestion, misunderstood_twice
from backend.config import get_settings
from backend.handoff.models import Handoff, HandoffStatus, Reason
from backend.store.db import get_engine
from backend.store.models import Shipment
from tests.actions.conftest import make_tracker, slot_events, texts
from tests.knowledge.support import session_index_dir


@pytest.fixture(autouse=True)
def desk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HANDOFF_HOURS", "always")
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(session_index_dir()))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def handoffs_of(store_url: str, conversation_id: str) -> list[Handoff]:
    with Session(get_engine(store_url)) as session:
        rows = session.exec(select(Handoff).where(Handoff.conversation_id == conversation_id))
        return list(rows.all())


def fallback_tracker(text: str, previous_intent: str, sender: str) -> Tracker:
    tracker = make_tracker(text, intent="nlu_fallback", sender=sender)
    earlier = {
        "event": "user",
        "text": "qwzx plorb",
        "parse_data": {"intent": {"name": previous_intent, "confidence": 0.3}},
    }
    tracker.events.insert(0, earlier)
    return tracker


async def test_asking_for_a_person_queues_the_conversation(
    domain: dict[str, Any], in_transit: Shipment, store_url: str
) -> None:
    tracker = make_tracker(
        "I want to talk to a person",
        intent="human_handoff",
        slots={"tracking_number": in_transit.tracking_number},
        sender="asks-for-a-person",
    )
    dispatcher = CollectingDispatcher()
    assert await ActionHandoff().run(dispatcher, tracker, domain) == []
    said = texts(dispatcher)
    assert len(said) == 1 and "An agent will join this chat in about" in said[0]
    [handoff] = handoffs_of(store_url, "asks-for-a-person")
    assert handoff.reason is Reason.asked and handoff.status is HandoffStatus.waiting
    assert handoff.customer_id == in_transit.customer_id
    assert handoff.note == "I want to talk to a person"
    # Asking again does not queue twice.
    again = CollectingDispatcher()
    await ActionHandoff().run(again, tracker, domain)
    assert "already in the queue" in texts(again)[0]
    assert len(handoffs_of(store_url, "asks-for-a-person")) == 1


async def test_outside_opening_hours_a_call_back_ticket(
    domain: dict[str, Any], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "Mon-Mon 00:00-00:01")
    get_settings.cache_clear()
    tracker = make_tracker("agent please", intent="human_handoff", sender="night-owl")
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(dispatcher, tracker, domain)
    [handoff] = handoffs_of(store_url, "night-owl")
    assert handoff.status is HandoffStatus.callback
    assert handoff.reference in texts(dispatcher)[0]


def test_two_fallbacks_in_a_row_are_detected() -> None:
    assert misunderstood_twice(fallback_tracker("blorp", "nlu_fallback", "x"))
    assert not misunderstood_twice(fallback_tracker("blorp", "greet", "x"))
    assert not misunderstood_twice(make_tracker("blorp", intent="nlu_fallback"))


async def test_the_second_message_not_understood_goes_to_a_person(
    domain: dict[str, Any], store_url: str
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = fallback_tracker("zzkq vrrm plix", "nlu_fallback", "lost-for-words")
    events = await ActionAnswerQuestion().run(dispatcher, tracker, domain)
    assert slot_events(events)["offer_human"] is False
    assert "An agent will join this chat" in texts(dispatcher)[0]
    [handoff] = handoffs_of(store_url, "lost-for-words")
    assert handoff.reason is Reason.not_understood

    first = CollectingDispatcher()
    once = fallback_tracker("zzkq vrrm plix", "greet", "first-miss")
    events = await ActionAnswerQuestion().run(first, once, domain)
    assert slot_events(events)["offer_human"] is True
    assert handoffs_of(store_url, "first-miss") == []
