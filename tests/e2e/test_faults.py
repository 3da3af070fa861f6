"""Faults in production mode, on this machine's PostgreSQL and Redis: the action server killed
mid-form (in the embedded stack too), PostgreSQL unreachable for a few seconds, and messages
racing into one conversation on two Rasa servers, with and without the shared lock store.

Every service reaches PostgreSQL through a gate (a TCP forwarder the test closes to cut the
database off, established connections included); the test itself reads the store directly.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlmodel import col, select

from backend.api.main import DATABASE_UNAVAILABLE
from backend.api.rasa_gateway import server_order
from backend.complaints.models import ComplaintTicket
from backend.store.db import get_engine, session_scope
from backend.store.models import Shipment, ShipmentStatus
from scripts.production import ENDPOINTS_FILE
from scripts.production_stack import POSTGRES_PORT, database_url
from scripts.stack import Stack
from tests.e2e.conftest import Chat, rasa_tracker
from tests.e2e.production import Gate, production_stack, production_store, rasa_gates

DATABASE = "parcelline_faults_test"
REDIS_DB = 12
REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")
# The gateway's apology (backend.api.rasa_gateway.apology_text), whatever the support phone.
APOLOGY = "Sorry, I'm having trouble answering right now"
# Rasa's endpoints without the Redis lock store: each server locks in its own memory.
OWN_LOCKS = "endpoints.in-memory-locks.yml"


@pytest.fixture(scope="module")
def faults_store() -> Iterator[str]:
    with production_store(DATABASE) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_gate(faults_store: str) -> Iterator[Gate]:
    gate = Gate(POSTGRES_PORT)
    gate.open()
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def faults_stack(
    faults_store: str, postgres_gate: Gate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = Path(tmp_path_factory.mktemp("faults-logs"))
    with production_stack(database_url(DATABASE, postgres_gate.port), REDIS_DB, logs) as stack:
        yield stack


@pytest.fixture
def production(faults_stack: Stack) -> Stack:
    """The module's stack, its Rasa servers on the shared Redis lock store (put back on it when
    a test took them off)."""
    if Path(faults_stack.endpoints).name == OWN_LOCKS:
        faults_stack.endpoints = str(faults_stack.log_dir / ENDPOINTS_FILE.name)
        faults_stack.restart_together(list(faults_stack.rasa_ports), timeout=420)
    return faults_stack


def damaged_parcels(url: str, count: int, skip: int = 0) -> list[Shipment]:
    """Damaged parcels, one per complaint dialogue (each test skips those of the tests before
    it), so no complaint is merged into another."""
    with session_scope(url) as session:
        found = list(
            session.exec(
                select(Shipment)
                .where(col(Shipment.damaged))
                .order_by(col(Shipment.id))
                .offset(skip)
                .limit(count)
            )
        )
        for shipment in found:
            session.expunge(shipment)
    assert len(found) == count
    return found


def tickets_of(url: str, conversation_id: str) -> list[ComplaintTicket]:
    with session_scope(url) as session:
        found = list(
            session.exec(
                select(ComplaintTicket).where(ComplaintTicket.conversation_id == conversation_id)
            )
        )
        for ticket in found:
            session.expunge(ticket)
        return found


def start_complaint(chat: Chat, parcel: Shipment) -> None:
    """The complaint dialogue up to the question about the amount claimed."""
    opened = chat.say_text(f"my parcel {parcel.tracking_number} arrived crushed")
    assert "what happened" in opened.lower(), opened
    asked = chat.say_text("the box was flattened and the mug inside is broken")
    assert "how much" in asked.lower(), asked


def amount(parcel: Shipment) -> str:
    return f"£{parcel.declared_value / 2:.2f}"


def action_server_killed_mid_form(stack: Stack, store_url: str) -> None:
    """Kill the action server at the amount question: an apology; restart it: the same question
    is answered, the earlier answers were kept, and the ticket is filed."""
    [parcel] = damaged_parcels(store_url, 1)
    with httpx.Client(base_url=stack.backend_url, timeout=90) as client:
        chat = Chat(client, uuid.uuid4().hex)
        start_complaint(chat, parcel)
        # Every action server: the conversation's Rasa server may use any of them.
        for name in stack.action_ports:
            stack.kill(name)
        try:
            answer = chat.say_text(amount(parcel))
            assert answer.startswith(APOLOGY), answer
            # The form is where it was: the same question open, the earlier answers kept.
            state = rasa_tracker(stack, chat.conversation_id)
        finally:
            # Whatever happened: the other tests need them.
            stack.restart_together(list(stack.action_ports))
        assert state["active_loop"]["name"] == "complaint_form"
        slots = state["slots"]
        assert slots["requested_slot"] == "claimed_amount"
        assert slots["tracking_number"] == parcel.tracking_number
        assert "flattened" in slots["complaint_description"]
        assert slots["claimed_amount"] is None
        assert "photos" in chat.say_text(amount(parcel)).lower()
        assert "get back to you" in chat.say_text("no").lower()
        filed = chat.say_text("chat")
    found = REFERENCE.search(filed)
    assert found, filed
    [ticket] = tickets_of(store_url, chat.conversation_id)
    assert ticket.reference == found.group(0)
    assert ticket.claimed_amount == pytest.approx(parcel.declared_value / 2, abs=0.01)
    assert "flattened" in ticket.description


def test_action_server_killed_mid_form_apologises_then_the_form_goes_on(
    production: Stack, faults_store: str
) -> None:
    action_server_killed_mid_form(production, faults_store)


def test_the_same_in_the_embedded_stack(stack: Stack, e2e_store: str) -> None:
    action_server_killed_mid_form(stack, e2e_store)


def test_postgres_unreachable_503_apology_nothing_lost_and_recovery(
    production: Stack, faults_store: str, postgres_gate: Gate
) -> None:
    confirmed_parcel, open_parcel = damaged_parcels(faults_store, 2, skip=1)
    number = confirmed_parcel.tracking_number
    first, second = rasa_gates(production)
    with httpx.Client(base_url=production.backend_url, timeout=90) as client:
        # A ticket confirmed before the outage, and a complaint at its last question.
        confirmed = Chat(client, uuid.uuid4().hex)
        start_complaint(confirmed, confirmed_parcel)
        confirmed.say_text(amount(confirmed_parcel))
        confirmed.say_text("no")
        reference = REFERENCE.search(confirmed.say_text("chat"))
        assert reference
        waiting = Chat(client, conversation_on(production, first))
        start_complaint(waiting, open_parcel)
        assert "photos" in waiting.say_text(amount(open_parcel)).lower()
        assert "get back to you" in waiting.say_text("no").lower()
        # Both Rasa servers hold pooled connections now, which the outage will cut.
        for gate in (first, second):
            assert APOLOGY not in chat_through(client, production, gate, "hello")

        postgres_gate.close()
        cut_at = time.monotonic()
        shipment = client.get(f"/api/shipments/{number}")
        assert shipment.status_code == 503
        assert shipment.json() == {"detail": DATABASE_UNAVAILABLE}
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["checks"]["database"]["ok"] is False
        # The answer that would file the ticket: an apology, and no ticket half-written.
        assert waiting.say_text("chat").startswith(APOLOGY)
        assert chat_through(client, production, first, "hello").startswith(APOLOGY)
        time.sleep(max(0.0, 5 - (time.monotonic() - cut_at)))  # a few seconds of outage
        assert tickets_of(faults_store, waiting.conversation_id) == []

        postgres_gate.open()
        # Service resumes by itself at the first request, also on the server that saw no
        # traffic during the outage (its pooled connections were cut without its knowing).
        answer = chat_through(client, production, second, "hello")
        assert APOLOGY not in answer, answer
        assert client.get(f"/api/shipments/{number}").status_code == 200
        assert client.get("/health").json()["status"] == "ok"
        # The form goes on at its last question and files the ticket once.
        filed = REFERENCE.search(waiting.say_text("chat"))
        assert filed
    assert [t.reference for t in tickets_of(faults_store, waiting.conversation_id)] == [
        filed.group(0)
    ]
    assert [t.reference for t in tickets_of(faults_store, confirmed.conversation_id)] == [
        reference.group(0)
    ]


def conversation_on(stack: Stack, gate: Gate) -> str:
    """A new conversation id whose first choice is the Rasa server behind `gate`."""
    urls = [g.url for g in rasa_gates(stack)]
    return next(
        c for c in iter(lambda: uuid.uuid4().hex, "") if server_order(c, urls)[0] == gate.url
    )


def chat_through(client: httpx.Client, stack: Stack, gate: Gate, message: str) -> str:
    """Say `message` in a new conversation on the server behind `gate`."""
    before = gate.requests
    answer = Chat(client, conversation_on(stack, gate)).say_text(message)
    assert gate.requests > before
    return answer


def in_transit(url: str, count: int) -> list[str]:
    with session_scope(url) as session:
        numbers = session.exec(
            select(Shipment.tracking_number)
            .where(Shipment.status == ShipmentStatus.in_transit, col(Shipment.damaged).is_(False))
            .limit(count)
        ).all()
    assert len(numbers) == count
    return list(numbers)


def turns(url: str, conversation_id: str) -> list[list[tuple[str, str | None, str]]]:
    """The conversation's events from the shared tracker store, cut at each user message:
    (type, action name, data) per event, in the order they were stored."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            text(
                "SELECT type_name, action_name, data FROM events WHERE sender_id = :id ORDER BY id"
            ),
            {"id": conversation_id},
        ).all()
    cut: list[list[tuple[str, str | None, str]]] = []
    for kind, action, data in rows:
        if kind == "user" or not cut:
            cut.append([])
        cut[-1].append((kind, action, data))
    return [turn for turn in cut if turn[0][0] == "user"]


def race(stack: Stack, numbers: list[str]) -> str:
    """Send "where is my parcel <n>" for every number at once into one new conversation, in turn
    to each Rasa server's webhook (past the gateway, whose own per-conversation lock would
    serialise them before Rasa). Returns the conversation id once every request was answered."""
    conversation = uuid.uuid4().hex
    servers = stack.rasa_urls
    start = threading.Barrier(len(numbers))

    def send(index: int) -> int:
        start.wait()
        response = httpx.post(
            f"{servers[index % len(servers)]}/webhooks/callback/webhook",
            json={"sender": conversation, "message": f"where is my parcel {numbers[index]}"},
            timeout=120,
        )
        return response.status_code

    with ThreadPoolExecutor(len(numbers)) as pool:
        assert list(pool.map(send, range(len(numbers)))) == [200] * len(numbers)
    return conversation


def asked_in(turn: list[tuple[str, str | None, str]], numbers: list[str]) -> str:
    return next(n for n in numbers if n in turn[0][2])


def test_concurrent_messages_into_one_conversation_are_serialised(
    production: Stack, faults_store: str
) -> None:
    """Six messages at once into one conversation, three to each Rasa server: the Redis lock
    store runs one whole turn after another."""
    numbers = in_transit(faults_store, 6)
    seen = turns(faults_store, race(production, numbers))
    asked = [asked_in(turn, numbers) for turn in seen]
    assert sorted(asked) == sorted(numbers), "a user message is missing from the tracker"
    for number, turn in zip(asked, seen, strict=True):
        kinds = [kind for kind, _, _ in turn]
        # One complete turn per message: its answers, then listening again, before the next.
        assert turn[-1][:2] == ("action", "action_listen"), kinds
        said = " ".join(data for kind, _, data in turn if kind == "bot")
        assert number in said, (number, said)
        assert not [other for other in numbers if other != number and other in said], said


def test_without_the_shared_lock_store_concurrent_turns_are_lost(
    faults_stack: Stack, faults_store: str
) -> None:
    """The same race with each Rasa server's own in-memory lock store instead of Redis: the two
    servers run turns of the conversation side by side, and the tracker store keeps only some
    of them (in four trials out of four, two or three of the six turns were lost)."""
    settings = yaml.safe_load(Path(faults_stack.endpoints).read_text())
    del settings["lock_store"]
    own_locks = faults_stack.log_dir / OWN_LOCKS
    own_locks.write_text(yaml.safe_dump(settings))
    faults_stack.endpoints = str(own_locks)
    # Left so for the module's teardown; `production` puts a later test back on Redis.
    faults_stack.restart_together(list(faults_stack.rasa_ports), timeout=420)
    numbers = in_transit(faults_store, 6)
    lost = turns(faults_store, race(faults_stack, numbers))
    assert len(lost) < len(numbers), [asked_in(turn, numbers) for turn in lost]
