"""The real stack for end-to-end tests: action server, Rasa server with the trained model
and the backend, on free ports, against a freshly seeded SQLite store."""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlmodel import Session
from websockets.sync.client import ClientConnection, connect

from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.models import Shipment
from backend.store.queries import find_shipment
from backend.store.seed import example_numbers, seed_database
from knowledge import index as kindex
from scripts.stack import Ports, Stack
from scripts.train import train


@dataclass
class Chat:
    """One shipper's conversation through the backend gateway, as the page holds it."""

    client: httpx.Client
    conversation_id: str

    def say(self, text: str, **fields: str) -> list[dict[str, object]]:
        """POST one message; `fields` adds a quick reply's `payload` or a `survey_token`."""
        body = {"conversation_id": self.conversation_id, "message": text, **fields}
        # ASCII JSON: lone surrogates travel as \ud800 escapes, which httpx's encoder refuses.
        response = self.client.post(
            "/api/chat", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    def say_text(self, text: str, **fields: str) -> str:
        return "\n".join(str(m.get("text") or "") for m in self.say(text, **fields))

    def choose(self, button: dict[str, str]) -> str:
        """Click a quick reply the bot offered, as the widget does: its title and payload."""
        return self.say_text(button["title"], payload=button["payload"])


@dataclass
class SocketChat:
    """One shipper's conversation over the widget's WebSocket (`/api/chat/ws`)."""

    socket: ClientConnection
    conversation_id: str
    refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    @contextlib.contextmanager
    def open(cls, stack: Stack) -> Iterator[SocketChat]:
        url = stack.backend_url.replace("http://", "ws://") + "/api/chat/ws"
        with connect(url, open_timeout=30, max_size=None) as socket:
            ready = json.loads(socket.recv(timeout=30))
            assert ready["type"] == "ready", ready
            yield cls(socket, ready["conversation_id"])

    def frame(self, timeout: float = 60) -> dict[str, Any]:
        return dict(json.loads(self.socket.recv(timeout=timeout)))

    def reply(self, ref: object, timeout: float = 60) -> dict[str, Any]:
        """The `reply` (or `error`) frame answering `ref`; pushes in between are skipped."""
        while True:
            frame = self.frame(timeout)
            if frame["type"] == "error" or (frame["type"] == "reply" and frame["ref"] == ref):
                return frame

    def say(self, text: str, **fields: str) -> dict[str, Any]:
        ref = next(self.refs)
        self.socket.send(json.dumps({"type": "message", "text": text, "ref": ref, **fields}))
        return self.reply(ref)


@pytest.fixture(scope="session")
def e2e_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'store.db'}"
    seed_database(url, customers=60, shipments=2500, seed=11, echo=lambda _: None)
    recompute_all(get_engine(url))  # value tiers, as `make run` computes them after seeding
    return url


@pytest.fixture(scope="session")
def stack(e2e_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    model = train()
    # The services load the default index, as `make run` builds it: ready before they start.
    kindex.ensure_built(echo=lambda _line: None)
    logs = Path(tmp_path_factory.mktemp("e2e-logs"))
    # Every test speaks from 127.0.0.1 and fast: no per-minute limits (tested in tests/backend).
    # The agents' desk never closes here, so a handoff always waits for an agent.
    env = {"CHAT_RATE_PER_CONVERSATION": "0", "CHAT_RATE_PER_IP": "0", "HANDOFF_HOURS": "always"}
    running = Stack(model=model, database_url=e2e_store, ports=Ports.free(), log_dir=logs, env=env)
    running.start(timeout=300)
    try:
        yield running
    finally:
        running.stop()


def rasa_tracker(stack: Stack, conversation_id: str) -> dict[str, Any]:
    """The conversation's tracker from Rasa's HTTP API, with the stack's token (in production
    mode any server: they share the tracker store)."""
    response = httpx.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": stack.api_token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def agent_headers(stack: Stack, role: Literal["agent", "manager"] = "agent") -> dict[str, str]:
    """Bearer headers of a new session of the demo agent (or manager) the backend created."""
    username, password = stack.credentials(role)
    response = httpx.post(
        f"{stack.backend_url}/api/agent/login",
        json={"username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def chat(stack: Stack) -> Iterator[Chat]:
    with httpx.Client(base_url=stack.backend_url, timeout=60) as client:
        yield Chat(client, uuid.uuid4().hex)


def shipment_examples(url: str) -> dict[str, Shipment]:
    """One seeded shipment of every kind (delivered, damaged, lost, ...) in the store at `url`."""
    with Session(get_engine(url)) as session:
        found: dict[str, Shipment] = {}
        for kind, number in example_numbers(session).items():
            shipment = find_shipment(session, number)
            assert shipment is not None
            session.expunge(shipment)
            found[kind] = shipment
        return found


@pytest.fixture(scope="session")
def examples(e2e_store: str) -> dict[str, Shipment]:
    return shipment_examples(e2e_store)
