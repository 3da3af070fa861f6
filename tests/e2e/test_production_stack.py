"""Production mode on this machine's PostgreSQL and Redis: two Rasa servers share trackers and
locks behind the backend gateway, so a conversation may move between them mid-form, and it
goes on when one of them dies.

The backend reaches each Rasa server through a gate (a TCP forwarder the test opens and closes):
a closed gate refuses connections as the port of a stopped server does, which forces the
gateway's choice turn by turn.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from backend.api.rasa_gateway import server_order
from backend.complaints.models import ComplaintTicket
from backend.store.db import get_engine, session_scope
from backend.store.models import Shipment
from backend.store.queries import find_shipment
from backend.store.seed import example_numbers
from knowledge import index as kindex
from scripts import production_stack
from scripts.stack import Stack, free_port
from scripts.train import train
from tests.e2e.conftest import Chat

DATABASE = "parcelline_prod_test"
REDIS_DB = 13
REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")


def redis_command(*words: str) -> bytes:
    """One command to this module's Redis database."""
    return production_stack.redis_command(REDIS_DB, *words)


class Gate:
    """A TCP forwarder to one Rasa server that the test opens and closes."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        # Chunks forwarded towards the server: a turn sent through this gate adds at least one.
        self.requests = 0
        self._server: socket.socket | None = None
        self._lock = threading.Lock()
        self._open_pairs: list[tuple[socket.socket, socket.socket]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        if self._server is not None:
            return
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones, as a stopped server's port does."""
        server, self._server = self._server, None
        if server is not None:
            # shutdown, not close alone: it wakes the thread blocked in accept() and stops
            # the kernel from accepting on its behalf.
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            pairs, self._open_pairs = self._open_pairs, []
        for pair in pairs:
            for sock in pair:
                sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open_pairs.append((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        _pump(
            source, target, self._count if target.getpeername()[1] == self.upstream_port else None
        )

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


def _pump(source: socket.socket, target: socket.socket, on_data: Callable[[], None] | None) -> None:
    try:
        while data := source.recv(65536):
            if on_data is not None:
                on_data()
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="module")
def prod_store() -> Iterator[str]:
    try:
        with production_stack.seeded_database(DATABASE) as url:
            yield url
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")


@pytest.fixture(scope="module")
def prod_stack(prod_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        assert redis_command("FLUSHDB").startswith(b"+OK")
    except OSError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    model = train()
    kindex.ensure_built(echo=lambda _line: None)
    logs = Path(tmp_path_factory.mktemp("prod-logs"))
    stack = production_stack.production_stack(model, prod_store, REDIS_DB, logs)
    gates = [Gate(port) for port in stack.rasa_ports.values()]
    for gate in gates:
        gate.open()
    stack.env.update(
        {
            "RASA_SERVERS": ",".join(gate.url for gate in gates),
            "CHAT_RATE_PER_CONVERSATION": "0",
            "CHAT_RATE_PER_IP": "0",
        }
    )
    stack.gates = gates  # type: ignore[attr-defined]
    stack.start(timeout=420)
    try:
        yield stack
    finally:
        stack.stop()
        for gate in gates:
            gate.close()
        redis_command("FLUSHDB")


@pytest.fixture
def examples(prod_store: str) -> dict[str, Shipment]:
    with session_scope(prod_store) as session:
        found: dict[str, Shipment] = {}
        for kind, number in example_numbers(session).items():
            shipment = find_shipment(session, number)
            assert shipment is not None
            session.expunge(shipment)
            found[kind] = shipment
        return found


def only_through(stack: Stack, index: int) -> Gate:
    gates: list[Gate] = stack.gates  # type: ignore[attr-defined]
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
    gates: list[Gate] = prod_stack.gates  # type: ignore[attr-defined]
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
