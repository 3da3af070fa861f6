"""Production mode on this machine's PostgreSQL and Redis: two Rasa servers share trackers and
locks behind the backend gateway, so a conversation may move between them mid-form, and it
goes on when one of them dies.

The backend reaches each Rasa server through a gate (a TCP forwarder the test opens and closes):
a closed gate refuses connections as the port of a stopped server does, which forces the
gateway's choice turn by turn.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from backend.api.rasa_gateway import server_order
from backend.complaints.models import ComplaintTicket
from backend.store.db import get_engine, session_scope
from backend.store.models import Shipment
from scripts.stack import Stack
from tests.e2e.conftest import Chat, shipment_examples
from tests.e2e.production import Gate, production_stack, production_store, rasa_gates

DATABASE = "parcelline_prod_test"
REDIS_DB = 13
REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")


@pytest.fixture(scope="module")
def prod_store() -> Iterator[str]:
    with production_store(DATABASE) as url:
        yield url


@pytest.fixture(scope="module")
def prod_stack(prod_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = Path(tmp_path_factory.mktemp("prod-logs"))
    with production_stack(prod_store, REDIS_DB, logs) as stack:
        yield stack


@pytest.fixture
def examples(prod_store: str) -> dict[str, Shipment]:
    return shipment_examples(prod_store)


def only_through(stack: Stack, index: int) -> Gate:
    gates = rasa_gates(stack)
    for number, gate in enumerate(gates):
        gate.open() if number == index else gate.close()
    return gates[index]


def tracker_events(url: str, conversation_id: str) -> int:
    with get_engine(url).connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM events WHERE sender_id = :id"), {"id": conversation_id}
            ).scalar_one()
        )


def said(gate: Gate, chat: Chat, message: str) -> str:
    """Say `message` with only `gate` open, and check the turn went through it."""
    before = gate.requests
    answer = chat.say_text(message)
    assert gate.requests > before, f"turn {message!r} did not reach {gate.url}"
    return answer


def test_a_form_half_filled_on_one_server_is_finished_on_the_other(
    prod_stack: Stack, prod_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = examples["damaged"]
    with httpx.Client(base_url=prod_stack.backend_url, timeout=90) as client:
        chat = Chat(client, uuid.uuid4().hex)
        first = said(
            only_through(prod_stack, 0), chat, f"my parcel {parcel.tracking_number} arrived crushed"
        )
        assert "what happened" in first.lower()
        asked = said(only_through(prod_stack, 1), chat, "the box was flattened, the mug broken")
        assert "how much" in asked.lower()
        photos = said(only_through(prod_stack, 0), chat, f"£{parcel.declared_value / 2:.2f}")
        assert "photos" in photos.lower()
        assert "get back to you" in said(only_through(prod_stack, 1), chat, "no").lower()
        filed = said(only_through(prod_stack, 0), chat, "chat")
    found = REFERENCE.search(filed)
    assert found, filed
    with session_scope(prod_store) as session:
        tickets = session.exec(
            select(ComplaintTicket).where(ComplaintTicket.reference == found.group(0))
        ).all()
    assert len(tickets) == 1
    # Both servers wrote the one conversation into the shared SQL tracker store.
    assert tracker_events(prod_store, chat.conversation_id) > 10


def test_one_server_killed_the_conversation_goes_on(
    prod_stack: Stack, prod_store: str, examples: dict[str, Shipment]
) -> None:
    gates = rasa_gates(prod_stack)
    for gate in gates:
        gate.open()
    parcel = examples["damaged"]
    with httpx.Client(base_url=prod_stack.backend_url, timeout=90) as client:
        # A conversation whose first choice is the server about to die.
        chat = Chat(
            client,
            next(
                c
                for c in iter(lambda: uuid.uuid4().hex, "")
                if server_order(c, [g.url for g in gates])[0] == gates[0].url
            ),
        )
        before = gates[0].requests
        assert (
            "what happened"
            in chat.say_text(f"my parcel {parcel.tracking_number} arrived crushed").lower()
        )
        assert gates[0].requests > before
        prod_stack.kill("rasa")
        # The gate stands for the dead server's port, which now refuses connections.
        gates[0].close()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{prod_stack.ports.rasa}/", timeout=3)
        before = gates[1].requests
        asked = chat.say_text("the box was flattened, the mug broken")
        assert "how much" in asked.lower(), asked
        assert gates[1].requests > before
        health = client.get("/health")
        assert health.status_code == 200, health.text
