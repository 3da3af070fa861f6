"""The chat transcript on SQLite and PostgreSQL: recording, history, recent conversations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from backend.conversations.models import ChatMessage, Sender
from backend.conversations.service import (
    conversation_history,
    offered_buttons,
    recent_conversations,
    record_message,
)

BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def test_a_message_is_recorded_with_everything_the_widget_shows(session: Session) -> None:
    before = datetime.now(UTC)
    message = record_message(session, "conv-aaaa-1", "bot", "Was this helpful?", BUTTONS)
    session.commit()
    session.expire_all()

    stored = session.get(ChatMessage, message.id)
    assert stored is not None
    assert stored.sender is Sender.bot
    assert stored.text == "Was this helpful?"
    assert stored.buttons == BUTTONS
    assert stored.agent_name is None
    assert stored.created_at.tzinfo is not None and stored.created_at >= before


def test_history_is_oldest_first_per_conversation_and_keeps_the_newest(session: Session) -> None:
    for n in range(5):
        record_message(session, "conv-aaaa-1", "customer", f"question {n}")
        record_message(session, "conv-bbbb-2", "bot", f"other {n}")
    record_message(session, "conv-aaaa-1", "agent", "Hello, Priya here", agent_name="Priya Shah")
    session.commit()

    history = conversation_history(session, "conv-aaaa-1")
    assert [m.text for m in history] == [f"question {n}" for n in range(5)] + ["Hello, Priya here"]
    assert history[-1].sender is Sender.agent and history[-1].agent_name == "Priya Shah"

    last_three = conversation_history(session, "conv-aaaa-1", limit=3)
    assert [m.text for m in last_three] == ["question 3", "question 4", "Hello, Priya here"]

    after = conversation_history(session, "conv-aaaa-1", after_id=history[3].id or 0)
    assert [m.text for m in after] == ["question 4", "Hello, Priya here"]
    assert conversation_history(session, "conv-nobody-9") == []


def test_unknown_sender_is_refused(session: Session) -> None:
    with pytest.raises(ValueError):
        record_message(session, "conv-aaaa-1", "robot", "hi")


def test_recent_conversations_newest_first_with_counts(session: Session) -> None:
    record_message(session, "conv-old-0001", "customer", "hi")
    record_message(session, "conv-new-0002", "customer", "hello")
    record_message(session, "conv-old-0001", "bot", "hi there")
    session.commit()
    record_message(session, "conv-new-0002", "bot", "latest")
    session.commit()

    recent = recent_conversations(session)
    assert [(r.conversation_id, r.message_count) for r in recent] == [
        ("conv-new-0002", 2),
        ("conv-old-0001", 2),
    ]
    assert recent[0].last_message_at.tzinfo is not None
    assert recent[0].last_message_at >= recent[1].last_message_at
    assert len(recent_conversations(session, limit=1)) == 1


def test_offered_buttons_are_those_after_the_customers_last_message(session: Session) -> None:
    assert offered_buttons(session, "conv-offer-1") == []
    record_message(session, "conv-offer-1", "bot", "Was this helpful?", BUTTONS)
    assert offered_buttons(session, "conv-offer-1") == BUTTONS
    record_message(session, "conv-offer-1", "customer", "Yes")
    assert offered_buttons(session, "conv-offer-1") == []  # answered: no longer on offer
    handoff = [{"title": "Talk to a person", "payload": "/human_handoff"}]
    record_message(session, "conv-offer-1", "bot", "Here is the answer.")
    record_message(session, "conv-offer-1", "bot", "Anything else?", handoff)
    record_message(session, "conv-offer-1", "agent", "Priya here", BUTTONS, agent_name="Priya")
    record_message(session, "conv-offer-2", "bot", "Other", [{"title": "X", "payload": "/x"}])
    session.commit()
    assert offered_buttons(session, "conv-offer-1") == handoff + BUTTONS
