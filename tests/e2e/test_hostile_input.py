"""Hostile input through the real gateway, Rasa and action server, over HTTP and the WebSocket.

Every message of `hostile_messages.yml` is sent in one conversation per transport. Each must get
a polite, non-empty answer with no traceback and no evaluated template; none may reach Rasa as
an `/intent{...}` shortcut (read back from Rasa's tracker: the user event's text never starts
with "/", no entity comes from Rasa's RegexMessageHandler, no slot holds an injected value, no
restart); afterwards the conversation still tracks a parcel and the store is intact.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func
from sqlmodel import Session, select

from backend.conversations.models import ChatMessage
from backend.store.db import get_engine
from backend.store.models import Shipment
from backend.store.queries import find_shipment
from scripts.paths import ROOT
from scripts.stack import Stack
from tests.e2e.conftest import Chat, SocketChat, rasa_tracker

CORPUS = Path(__file__).with_name("hostile_messages.yml")
KNOWN = "<<KNOWN>>"
# What a fault or a leak of the server's insides would look like in an answer.
LEAKS = ("Traceback", "Exception", 'File "/', "sqlalchemy", "psycopg", "rasa_sdk", "Error:")
# Markup the bot must never say back as it was typed.
MARKUP = ("<script", "<img", "onerror=", "javascript:")
# Intents Rasa's NLU can predict from words; an injected one outside these cannot be read
# from the text, so seeing it in the tracker would mean the shortcut worked.
DOMAIN_INTENTS = set(yaml.safe_load((ROOT / "domain.yml").read_text())["intents"]) | {
    "nlu_fallback"
}
# The gateway's apology: a hostile message must not break the turn.
FAULT = "having trouble answering"


@dataclass(frozen=True)
class Hostile:
    name: str
    text: str
    intent: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    forbid: tuple[str, ...] = ()


def corpus(known: str) -> list[Hostile]:
    entries = []
    for entry in yaml.safe_load(CORPUS.read_text(encoding="utf-8")):
        inject = entry.get("inject") or {}
        entries.append(
            Hostile(
                name=entry["name"],
                text=entry["text"].replace(KNOWN, known) * int(entry.get("repeat", 1)),
                intent=inject.get("intent"),
                slots={k: str(v).replace(KNOWN, known) for k, v in inject.get("slots", {}).items()},
                forbid=tuple(f.replace(KNOWN, known) for f in entry.get("forbid", [])),
            )
        )
    return entries


def test_the_corpus_is_broad() -> None:
    entries = corpus("LP000000000GB")
    assert len(entries) >= 40
    assert sum(1 for e in entries if e.intent) >= 15
    assert max(len(e.text) for e in entries) >= 100 * 1024


class Rasa:
    """Rasa's view of a conversation, through its HTTP API (the stack's token)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        return rasa_tracker(self.stack, conversation_id)

    def user_events(self, conversation_id: str) -> list[dict[str, Any]]:
        events = self.tracker(conversation_id)["events"]
        return [e for e in events if e["event"] == "user"]


def check_answer(entry: Hostile, messages: list[dict[str, Any]]) -> None:
    texts = [str(m.get("text") or "") for m in messages]
    said = "\n".join(texts)
    assert said.strip(), f"{entry.name}: no answer"
    assert FAULT not in said, f"{entry.name}: a fault: {said}"
    for leak in LEAKS:
        assert leak not in said, f"{entry.name}: {leak!r} in {said!r}"
    for mark in MARKUP:
        assert mark not in said.lower(), f"{entry.name}: markup echoed: {said!r}"
    for forbidden in entry.forbid:
        assert forbidden not in said, f"{entry.name}: template evaluated: {said!r}"
    for text in texts:
        text.encode("utf-8")  # no lone surrogate the widget's JSON could not carry


def check_tracker(entry: Hostile, rasa: Rasa, conversation_id: str, users_before: int) -> int:
    """The message reached Rasa as words, never as the `/intent{...}` shortcut."""
    tracker = rasa.tracker(conversation_id)
    users = [e for e in tracker["events"] if e["event"] == "user"]
    if len(users) > users_before:  # the gateway answered some itself (blank, too long)
        event = users[-1]
        assert not str(event.get("text") or "").strip().startswith("/"), entry.name
        parse = event.get("parse_data") or {}
        extractors = {e.get("extractor") for e in parse.get("entities") or []}
        assert "RegexMessageHandler" not in extractors, f"{entry.name}: {parse}"
        intent = (parse.get("intent") or {}).get("name")
        if entry.intent and entry.intent not in DOMAIN_INTENTS:
            assert intent != entry.intent, f"{entry.name}: injected intent {intent}"
    slots = tracker["slots"]
    for name, value in entry.slots.items():
        assert str(slots.get(name) or "") != value, f"{entry.name}: slot {name} set to {value}"
    assert not slots.get("verified_numbers"), f"{entry.name}: {slots.get('verified_numbers')}"
    names = [e["event"] for e in tracker["events"]]
    assert "restart" not in names, entry.name
    assert names.count("session_started") <= 1, entry.name
    return len(users)


@pytest.fixture(scope="module")
def known(examples: dict[str, Shipment], stack: Stack) -> Shipment:
    # The services are up, but the action server may still be loading its query encoder in
    # the background: a service question waits for it here, not in the corpus's first one.
    with httpx.Client(base_url=stack.backend_url, timeout=60) as client:
        warm = Chat(client, uuid.uuid4().hex)
        for _ in range(4):
            if FAULT not in warm.say_text("how long does a pickup point keep my parcel?"):
                break
    return examples["in transit"]


def store_counts(e2e_store: str) -> tuple[int, int]:
    with Session(get_engine(e2e_store)) as session:
        shipments = session.exec(select(func.count()).select_from(Shipment)).one()
        transcript = session.exec(select(func.count()).select_from(ChatMessage)).one()
        return shipments, transcript


def still_works(answer: str, known: Shipment, e2e_store: str, shipments_before: int) -> None:
    assert known.tracking_number in answer, answer
    shipments, transcript = store_counts(e2e_store)
    assert shipments == shipments_before and transcript > 0
    with Session(get_engine(e2e_store)) as session:
        assert find_shipment(session, known.tracking_number) is not None


def test_hostile_messages_over_http(
    chat: Chat, stack: Stack, known: Shipment, e2e_store: str
) -> None:
    rasa = Rasa(stack)
    shipments_before, _ = store_counts(e2e_store)
    users = 0
    for entry in corpus(known.tracking_number):
        check_answer(entry, chat.say(entry.text))
        users = check_tracker(entry, rasa, chat.conversation_id, users)
    # A quick reply never offered, carrying a slot value.
    forged = Hostile("forged payload", "", slots={"tracking_number": "EE123456785GB"})
    check_answer(forged, chat.say("yes", payload='/inform{"tracking_number": "EE123456785GB"}'))
    users = check_tracker(forged, rasa, chat.conversation_id, users)

    # Invalid UTF-8 in the body (no browser sends it): read with U+FFFD, answered all the same.
    raw = b'{"conversation_id": "%s", "message": "where is my \xff\xfe parcel"}'
    response = chat.client.post(
        "/api/chat",
        content=raw % chat.conversation_id.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    check_answer(Hostile("invalid UTF-8", ""), response.json()["messages"])

    answer = chat.say_text(f"where is my parcel {known.tracking_number}")
    still_works(answer, known, e2e_store, shipments_before)


def test_hostile_messages_over_the_websocket(stack: Stack, known: Shipment, e2e_store: str) -> None:
    rasa = Rasa(stack)
    shipments_before, _ = store_counts(e2e_store)
    users = 0
    with SocketChat.open(stack) as chat:
        for entry in corpus(known.tracking_number):
            frame = chat.say(entry.text)
            assert frame["type"] == "reply", f"{entry.name}: {frame}"
            check_answer(entry, frame["messages"])
            users = check_tracker(entry, rasa, chat.conversation_id, users)

        # Raw bytes that are not UTF-8, as a binary frame: a polite error, the socket stays.
        chat.socket.send(b'\xff\xfe{"type": "message", "text": "\xc3\x28"}')
        error = chat.frame()
        assert error["type"] == "error" and "send it again" in error["detail"]
        # Lone surrogates escaped in the JSON of a text frame: dropped, the rest answered.
        escaped = json.dumps(
            {"type": "message", "text": "where is \ud800my\udfff parcel", "ref": 0}
        )
        assert "\\ud800" in escaped
        chat.socket.send(escaped)
        frame = chat.reply(0)
        assert frame["type"] == "reply"
        check_answer(Hostile("lone surrogates in JSON", ""), frame["messages"])
        # A quick reply never offered, carrying a slot value.
        forged = Hostile("forged payload", "", slots={"tracking_number": "EE123456785GB"})
        frame = chat.say("yes", payload='/inform{"tracking_number": "EE123456785GB"}')
        check_answer(forged, frame["messages"])
        users = check_tracker(forged, rasa, chat.conversation_id, users)

        frame = chat.say(f"where is my parcel {known.tracking_number}")
        answer = "\n".join(str(m.get("text") or "") for m in frame["messages"])
    still_works(answer, known, e2e_store, shipments_before)
    history = httpx.get(
        f"{stack.backend_url}/api/chat/{chat.conversation_id}/history", timeout=30
    ).json()["messages"]
    # The transcript holds what the customer wrote, never a payload they did not click.
    assert not any(m["sender"] == "customer" and m["text"].startswith("/") for m in history), (
        history
    )
