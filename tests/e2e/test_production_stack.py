"""Production mode on this machine's PostgreSQL and Redis: two Rasa servers share trackers and
locks behind the backend gateway, so a conversation may move between them mid-form, and it
goes on when one of them dies. Each Rasa server has its own action server, and the backend runs
two workers on one port sharing the gateway's state in Redis: a turn's callbacks, pushes to a
socket and rate counts work whichever worker takes each connection.

The backend reaches each Rasa server through a gate (a TCP forwarder the test opens and closes):
a closed gate refuses connections as the port of a stopped server does, which forces the
gateway's choice turn by turn.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from backend.api.rasa_gateway import server_order
from backend.api.rate_limit import rate_limited_reply
from backend.api.routes.chat import empty_message_reply
from backend.complaints.models import ComplaintTicket
from backend.store.db import get_engine, session_scope
from backend.store.models import Shipment
from scripts.stack import Stack
from tests.e2e.conftest import Chat, agent_headers, shipment_examples
from tests.e2e.production import Gate, production_stack, production_store, rasa_gates

DATABASE = "parcelline_prod_test"
REDIS_DB = 13
BACKEND_WORKERS = 2
RATE_PER_CONVERSATION = 10
REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")


@pytest.fixture(scope="module")
def prod_store() -> Iterator[str]:
    with production_store(DATABASE) as url:
        yield url


@pytest.fixture(scope="module")
def prod_stack(prod_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = Path(tmp_path_factory.mktemp("prod-logs"))
    env = {
        # Every test speaks from 127.0.0.1: a per-conversation limit only, above any dialogue.
        "CHAT_RATE_PER_CONVERSATION": str(RATE_PER_CONVERSATION),
        "HANDOFF_HOURS": "always",
    }
    with production_stack(
        prod_store, REDIS_DB, logs, env, backend_workers=BACKEND_WORKERS
    ) as stack:
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


# ------------------------------------------------------------------ several backend workers

LOG_LINE = re.compile(r"\[(\d+)\] backend\.api\.\w+: (.*)")


def backend_log(stack: Stack) -> list[tuple[int, str]]:
    """(worker pid, message) of every line the backend's workers logged so far."""
    lines = (stack.log_dir / "backend.log").read_text(errors="replace").splitlines()
    return [(int(m.group(1)), m.group(2)) for m in map(LOG_LINE.search, lines) if m]


def pids_logging(stack: Stack, pattern: str) -> dict[str, set[int]]:
    """For each conversation id captured by `pattern`, the workers that logged it."""
    found: dict[str, set[int]] = {}
    for pid, message in backend_log(stack):
        if match := re.fullmatch(pattern, message):
            found.setdefault(match.group(1), set()).add(pid)
    return found


def fresh_post(stack: Stack, path: str, **kwargs: object) -> httpx.Response:
    # A new connection per request: each is accepted by whichever worker is quicker.
    return httpx.post(f"{stack.backend_url}{path}", timeout=90, **kwargs)  # type: ignore[arg-type]


def ws_url(stack: Stack, conversation_id: str) -> str:
    base = stack.backend_url.replace("http://", "ws://")
    return f"{base}/api/chat/ws?conversation_id={conversation_id}"


def frames_until(socket: ClientConnection, want: Callable[[dict], bool]) -> dict:
    while True:
        frame = json.loads(socket.recv(timeout=90))
        if want(frame):
            return frame


def test_each_rasa_server_calls_its_own_action_server(prod_stack: Stack) -> None:
    endpoints = {}
    for name in prod_stack.rasa_ports:
        environ = Path(f"/proc/{prod_stack.processes[name].pid}/environ").read_bytes()
        [url] = [v for v in environ.split(b"\0") if v.startswith(b"ACTION_ENDPOINT_URL=")]
        endpoints[name] = url.split(b"=", 1)[1].decode()
    assert endpoints == {
        "rasa": f"http://127.0.0.1:{prod_stack.action_ports['actions']}/webhook",
        "rasa2": f"http://127.0.0.1:{prod_stack.action_ports['actions2']}/webhook",
    }
    for url in prod_stack.health_urls().values():
        assert httpx.get(url, timeout=5).status_code == 200, url


def test_many_conversations_over_http_and_sockets_each_get_their_own_answers(
    prod_stack: Stack, prod_store: str
) -> None:
    for gate in rasa_gates(prod_stack):
        gate.open()
    with session_scope(prod_store) as session:
        numbers = list(
            session.exec(select(Shipment.tracking_number).order_by(Shipment.id).limit(16))
        )
    conversations = {uuid.uuid4().hex: number for number in numbers}

    def over_http(cid: str, number: str) -> list[str]:
        body = {"conversation_id": cid, "message": f"where is my parcel {number}"}
        response = fresh_post(prod_stack, "/api/chat", json=body)
        assert response.status_code == 200, response.text
        return [str(m.get("text") or "") for m in response.json()["messages"]]

    def over_socket(cid: str, number: str) -> list[str]:
        with ws_connect(ws_url(prod_stack, cid), open_timeout=30) as socket:
            message = {"type": "message", "text": f"where is my parcel {number}", "ref": cid}
            socket.send(json.dumps(message))
            reply = frames_until(socket, lambda f: f["type"] == "reply")
        assert reply["ref"] == cid
        return [str(m.get("text") or "") for m in reply["messages"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {
            cid: pool.submit(over_socket if n % 2 else over_http, cid, number)
            for n, (cid, number) in enumerate(conversations.items())
        }
        answers = {cid: "\n".join(future.result()) for cid, future in futures.items()}
    for cid, number in conversations.items():
        assert number in answers[cid], (number, answers[cid])
        others = [n for n in conversations.values() if n != number and n in answers[cid]]
        assert others == [], (number, others)
    # Both workers ran turns, and some turn's messages came back through the other worker.
    turns = pids_logging(prod_stack, r"turn conversation=(\w+) chars=.*")
    callbacks = pids_logging(prod_stack, r"callback conversation=(\w+) given to its turn")
    assert set(turns) >= set(conversations)
    assert len(set().union(*(turns[c] for c in conversations))) == BACKEND_WORKERS
    crossed = [c for c in conversations if callbacks.get(c, set()) - turns[c]]
    print(f"{len(crossed)} of {len(conversations)} turns had callbacks taken by another worker")
    assert crossed, "no turn's callbacks reached another worker than the turn's"


def test_an_agent_reply_reaches_a_socket_held_by_another_worker(prod_stack: Stack) -> None:
    for gate in rasa_gates(prod_stack):
        gate.open()
    headers = agent_headers(prod_stack)
    crossed = 0
    # Which worker accepts a connection is the kernel's choice: try conversations until a
    # reply was pushed by another worker than the socket's (each try must arrive regardless).
    for attempt in range(8):
        cid = uuid.uuid4().hex
        with ws_connect(ws_url(prod_stack, cid), open_timeout=30) as socket:
            ask = {"type": "message", "text": "I want to talk to a person", "ref": 1}
            socket.send(json.dumps(ask))
            asked = frames_until(socket, lambda f: f["type"] == "reply")
            assert "agent will join" in json.dumps(asked).lower(), asked
            queue = httpx.get(
                f"{prod_stack.backend_url}/api/agent/handoffs", headers=headers, timeout=30
            ).json()
            [handoff] = [h for h in queue["waiting"] if h["conversation_id"] == cid]
            path = f"/api/agent/handoffs/{handoff['id']}"
            took = fresh_post(prod_stack, f"{path}/take", headers=headers)
            assert took.status_code == 200, took.text
            text = f"Hello from the desk, try {attempt}"
            replied = fresh_post(prod_stack, f"{path}/reply", headers=headers, json={"text": text})
            assert replied.status_code == 200, replied.text
            pushed = frames_until(socket, lambda f, t=text: f["type"] == "push" and t in str(f))
            [message] = [m for m in pushed["messages"] if m["text"] == text]
            assert (message["sender"], message["agent_name"]) == ("agent", "Demo Agent")
        fresh_post(prod_stack, f"{path}/close", headers=headers)
        sockets = pids_logging(prod_stack, r"socket opened conversation=(\w+)")
        pushes = pids_logging(prod_stack, r"pushed message conversation=(\w+)")
        if pushes.get(cid, set()) - sockets.get(cid, set()):
            crossed += 1
            print(f"a push crossed workers at conversation {attempt + 1}")
            break
    assert crossed, "every push happened to be made by the socket's own worker"


def test_the_rate_limit_is_counted_across_workers(prod_stack: Stack) -> None:
    cid = uuid.uuid4().hex
    logged_before = len(backend_log(prod_stack))
    # Blank messages count against the limit but cost no Rasa turn.
    answers = [
        fresh_post(prod_stack, "/api/chat", json={"conversation_id": cid, "message": " "})
        for _ in range(RATE_PER_CONVERSATION + 2)
    ]
    texts = [a.json()["messages"][0]["text"] for a in answers]
    assert texts[:RATE_PER_CONVERSATION] == [empty_message_reply().text] * RATE_PER_CONVERSATION
    assert texts[RATE_PER_CONVERSATION:] == [rate_limited_reply().text] * 2
    deadline = time.monotonic() + 10
    while True:  # each request is logged just after its answer left
        served = [
            pid
            for pid, message in backend_log(prod_stack)[logged_before:]
            if message.startswith("POST /api/chat 200")
        ]
        if len(served) >= len(answers) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(served) == len(answers)
    print(f"the rate limit's {len(answers)} requests were served by {len(set(served))} workers")
    assert len(set(served)) == BACKEND_WORKERS


# Last in the module: it leaves the first Rasa server dead.
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
