"""The chat WebSocket `/api/chat/ws`: frames both ways, limits, pushes, resuming after a drop.

Turns run against the fake Rasa over real HTTP (a real server and a real WebSocket client);
what needs no Rasa turn uses FastAPI's TestClient.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from backend.api.main import create_app
from backend.api.rate_limit import rate_limited_reply
from backend.api.routes.chat import empty_message_reply, too_long_reply
from backend.api.schemas import BotMessage
from backend.config import Settings
from tests.backend.api.conftest import UNREACHABLE_POSTGRES, Backend, callback, receive, ws_url


@pytest.fixture
def app_client(database_url: str) -> Iterator[TestClient]:
    # Nothing listens on port 9: every turn fails fast and answers the apology.
    settings = Settings(
        database_url=database_url,
        rasa_url="http://127.0.0.1:9",
        chat_rate_per_conversation=3,
        chat_rate_per_ip=0,
        max_message_chars=50,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_new_socket_gets_a_new_unguessable_conversation(app_client: TestClient) -> None:
    ids = []
    for _ in range(2):
        with app_client.websocket_connect("/api/chat/ws") as socket:
            ready = socket.receive_json()
            assert ready["type"] == "ready"
            ids.append(ready["conversation_id"])
            socket.send_json({"type": "ping"})
            assert socket.receive_json() == {"type": "pong"}
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]


def test_a_malformed_conversation_id_is_refused(app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/chat/ws?conversation_id=../../etc") as socket:
        assert socket.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 1008


def test_unreadable_frames_get_a_polite_error_and_the_socket_stays(app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/chat/ws") as socket:
        socket.receive_json()
        for frame in ({"type": "message"}, {"type": "shout", "text": "hi"}, [1, 2], "text"):
            socket.send_json(frame)
            error = socket.receive_json()
            assert error["type"] == "error" and "send it again" in error["detail"]
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}


def test_limits_answer_with_notices_and_record_nothing(app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/chat/ws") as socket:
        conversation = socket.receive_json()["conversation_id"]
        replies = []
        for text in ("   ", "x" * 51, "hello"):  # blank, too long, then a turn (Rasa is down)
            socket.send_json({"type": "message", "text": text, "ref": text[:3]})
            replies.append(socket.receive_json())
        socket.send_json({"type": "message", "text": "again", "ref": 4})
        limited = socket.receive_json()

    assert [r["ref"] for r in replies] == ["   ", "xxx", "hel"]
    assert replies[0]["messages"][0]["text"] == empty_message_reply().text
    assert replies[1]["messages"][0]["text"] == too_long_reply(Settings(max_message_chars=50)).text
    assert "call us" in replies[2]["messages"][0]["text"]  # the apology
    assert replies[2]["customer_message_id"] is not None
    assert limited["ref"] == 4 and limited["customer_message_id"] is None
    assert limited["messages"][0]["text"] == rate_limited_reply().text
    history = app_client.get(f"/api/chat/{conversation}/history").json()["messages"]
    assert [m["sender"] for m in history] == ["customer", "bot"]
    assert history[0]["text"] == "hello" and history[0]["id"] == replies[2]["customer_message_id"]


def test_an_agent_push_from_another_thread_reaches_the_socket(app_client: TestClient) -> None:
    gateway = app_client.app.state.gateway  # type: ignore[attr-defined]
    with app_client.websocket_connect("/api/chat/ws") as socket:
        conversation = socket.receive_json()["conversation_id"]
        pusher = threading.Thread(
            target=gateway.push,
            args=(conversation, BotMessage(text="<b>Priya</b> here"), "agent", "Priya Shah"),
        )
        pusher.start()
        frame = socket.receive_json()
        pusher.join()
    assert frame["type"] == "push"
    [message] = frame["messages"]
    assert (message["sender"], message["text"], message["agent_name"]) == (
        "agent",
        "<b>Priya</b> here",
        "Priya Shah",
    )


def test_a_turn_over_the_socket(backend: Backend) -> None:
    with connect(ws_url(backend)) as socket:
        conversation = receive(socket)["conversation_id"]
        socket.send(json.dumps({"type": "message", "text": "buttons", "ref": "r1"}))
        reply = receive(socket)
    assert reply["type"] == "reply" and reply["ref"] == "r1"
    [message] = reply["messages"]
    assert message["text"] == "Was this helpful?" and message["sender"] == "bot"
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    assert message["id"] > reply["customer_message_id"]
    assert backend.rasa is not None and backend.rasa.messages_from(conversation) == ["buttons"]
    history = backend.get(f"/api/chat/{conversation}/history").json()["messages"]
    assert [(m["sender"], m["text"]) for m in history] == [
        ("customer", "buttons"),
        ("bot", "Was this helpful?"),
    ]
    assert history[1]["buttons"] == message["buttons"]


def test_a_proactive_message_is_pushed_to_the_open_socket_at_once(backend: Backend) -> None:
    conversation = uuid.uuid4().hex
    with connect(ws_url(backend, conversation_id=conversation)) as socket:
        assert receive(socket)["conversation_id"] == conversation
        callback(backend, conversation, "How did we do?")
        frame = receive(socket)
    assert frame["type"] == "push" and frame["messages"][0]["text"] == "How did we do?"
    # Delivered on the socket, so nothing waits for polling.
    assert backend.get(f"/api/chat/{conversation}/messages").json()["messages"] == []


def test_a_reconnecting_socket_gets_what_it_missed_once(backend: Backend) -> None:
    conversation = uuid.uuid4().hex
    with connect(ws_url(backend, conversation_id=conversation)) as socket:
        receive(socket)
        socket.send(json.dumps({"type": "message", "text": "hello", "ref": 1}))
        seen = receive(socket)["messages"][-1]["id"]
    # While no socket is open: a survey question arrives, then a second one.
    callback(backend, conversation, "How did we do?")
    callback(backend, conversation, "From 1 to 5?")
    with connect(ws_url(backend, conversation_id=conversation, after=seen)) as socket:
        receive(socket)
        resumed = receive(socket)
        socket.send(json.dumps({"type": "ping"}))
        assert receive(socket) == {"type": "pong"}  # nothing sent twice before the pong
    assert [m["text"] for m in resumed["messages"]] == ["How did we do?", "From 1 to 5?"]
    assert backend.get(f"/api/chat/{conversation}/messages").json()["messages"] == []


def test_history_of_an_unknown_or_malformed_id(backend: Backend) -> None:
    unknown = backend.get(f"/api/chat/{uuid.uuid4().hex}/history")
    assert unknown.status_code == 200 and unknown.json()["messages"] == []
    assert backend.get("/api/chat/bad%20id!/history").status_code == 422
    # Past any row id (SQLite's integers overflowed into a 500).
    past = backend.get(f"/api/chat/{uuid.uuid4().hex}/history?after={2**63}")
    assert past.status_code == 422


def test_a_socket_asking_after_any_row_id_still_connects(backend: Backend) -> None:
    with connect(ws_url(backend, after=2**70)) as socket:
        assert receive(socket)["type"] == "ready"
        socket.send(json.dumps({"type": "ping"}))
        assert receive(socket) == {"type": "pong"}


def test_a_frame_far_over_the_size_limit_is_refused_at_once(app_client: TestClient) -> None:
    with app_client.websocket_connect("/api/chat/ws") as socket:
        socket.receive_json()
        socket.send_json({"type": "message", "text": "y" * 1_000_000, "ref": "big"})
        reply = socket.receive_json()
    assert reply["messages"][0]["text"] == too_long_reply(Settings(max_message_chars=50)).text


def test_store_down_a_turn_over_the_socket_is_still_answered(start_backend) -> None:
    no_db = start_backend(database_url=UNREACHABLE_POSTGRES)
    with connect(ws_url(no_db)) as socket:
        receive(socket)  # ready; no transcript to replay
        socket.send(json.dumps({"type": "message", "text": "hello", "ref": "r1"}))
        reply = receive(socket)
    assert reply["type"] == "reply" and reply["ref"] == "r1"
    assert [m["text"] for m in reply["messages"]] == ["echo: hello"]
