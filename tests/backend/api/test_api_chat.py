"""POST /api/chat and the callback round trip, against a fake Rasa over real HTTP."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from backend.api.rasa_gateway import apology_text
from tests.backend.api.conftest import UNREACHABLE_POSTGRES


def texts(response: httpx.Response) -> list[str | None]:
    assert response.status_code == 200, response.text
    return [message["text"] for message in response.json()["messages"]]


def new_id() -> str:
    return uuid.uuid4().hex


def test_happy_path_creates_a_conversation(backend, rasa):
    response = backend.chat("hello there")
    body = response.json()

    assert re.fullmatch(r"[0-9a-f]{32}", body["conversation_id"])
    assert texts(response) == ["echo: hello there"]
    assert body["messages"][0]["buttons"] == []
    assert rasa.messages_from(body["conversation_id"]) == ["hello there"]


def test_conversation_id_is_kept(backend, rasa):
    conversation = new_id()
    first = backend.chat("one", conversation)
    second = backend.chat("two", conversation)

    assert first.json()["conversation_id"] == second.json()["conversation_id"] == conversation
    assert rasa.messages_from(conversation) == ["one", "two"]


def test_several_bot_messages_arrive_in_order(backend):
    assert texts(backend.chat("three abc")) == ["abc 1", "abc 2", "abc 3"]


def test_buttons_come_through(backend):
    message = backend.chat("buttons").json()["messages"][0]
    assert message["text"] == "Was this helpful?"
    assert message["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]


def test_concurrent_conversations_get_their_own_messages(backend):
    # Both turns post their three messages interleaved with the other's.
    tags = [f"tag{n}" for n in range(4)]
    with ThreadPoolExecutor(len(tags)) as pool:
        responses = list(pool.map(lambda tag: backend.chat(f"three {tag}", new_id()), tags))
    for tag, response in zip(tags, responses, strict=True):
        assert texts(response) == [f"{tag} 1", f"{tag} 2", f"{tag} 3"]


def test_turns_of_one_conversation_are_serialised(backend, rasa):
    conversation = new_id()
    with ThreadPoolExecutor(2) as pool:
        responses = list(
            pool.map(lambda tag: backend.chat(f"three {tag}", conversation), ["x", "y"])
        )
    assert sorted(tuple(texts(r)) for r in responses) == [
        ("x 1", "x 2", "x 3"),
        ("y 1", "y 2", "y 3"),
    ]
    assert rasa.max_parallel_turns[conversation] == 1


@pytest.mark.parametrize(
    "message",
    [
        "📦 where is it? 🙏",
        "我的包裹在哪里？",
        "'; DROP TABLE shipments; --",
        "<script>alert('x')</script><b>bold</b>",
        "line one\n\tline two",
        'my number is {"tracking_number": "LP123"}',
    ],
)
def test_messages_pass_through_unchanged(backend, rasa, message):
    conversation = new_id()
    assert texts(backend.chat(message, conversation)) == [f"echo: {message}"]
    assert rasa.messages_from(conversation) == [message]


@pytest.mark.parametrize(
    ("message", "sent"),
    [
        ("  where\x00 is\x07 my\x1b parcel?\r\n ", "where is my parcel?"),
        ("cafe\u0301", "café"),  # NFC: e + combining accent becomes é
        ("\x85next\x9fline", "nextline"),  # C1 controls
        ("/etc/passwd", "etc/passwd"),
        ("/Affirm please", "Affirm please"),
        ("//:-)", ":-)"),
        ("\u200bhello\u200b", "hello"),  # zero-width spaces at the ends carry nothing
    ],
)
def test_messages_are_cleaned_before_rasa(backend, rasa, message, sent):
    conversation = new_id()
    backend.chat(message, conversation)
    assert rasa.messages_from(conversation) == [sent]


def test_lone_surrogates_are_dropped(backend, rasa):
    conversation = new_id()
    raw = json.dumps({"conversation_id": conversation, "message": "hi @there"})
    raw = raw.replace("@", "\\ud800")  # a lone surrogate, escaped as JSON allows
    assert texts(backend.chat_raw(raw)) == ["echo: hi there"]


@pytest.mark.parametrize(
    "message", ["", "   ", "\n\t\r", "\u200b\u200b", "\x00\x01", "/", " / ", "／", "\u200b//"]
)
def test_empty_messages_are_answered_without_rasa(backend, rasa, message):
    conversation = new_id()
    [reply] = texts(backend.chat(message, conversation))
    assert reply.startswith("I didn't catch anything there")
    assert rasa.messages_from(conversation) == []


def test_over_long_message_gets_a_notice_and_stays_here(backend, rasa):
    conversation = new_id()
    limit = backend.settings.max_message_chars
    [reply] = texts(backend.chat("x" * (limit + 1), conversation))
    assert str(limit) in reply
    assert rasa.messages_from(conversation) == []

    assert texts(backend.chat("x" * limit, conversation)) == ["echo: " + "x" * limit]


def test_huge_message_is_refused_politely(backend, rasa):
    conversation = new_id()
    [reply] = texts(backend.chat("🚚" * 200_000, conversation))
    assert "2000 characters" in reply
    assert rasa.messages_from(conversation) == []


@pytest.mark.parametrize(
    "conversation_id", ["short", "has space in it", "x" * 65, "ünïcode-id-123", "../../etc", ""]
)
def test_bad_conversation_id_is_422(backend, conversation_id):
    assert backend.chat("hi", conversation_id).status_code == 422


def test_missing_message_is_422(backend):
    with backend.client() as client:
        assert client.post("/api/chat", json={"conversation_id": new_id()}).status_code == 422


# --- faults: every one ends in the same polite apology --------------------------------------


def apology(backend) -> list[str]:
    return [apology_text(backend.settings)]


def test_apology_names_phone_and_hours(backend):
    text = apology_text(backend.settings)
    assert backend.settings.support_phone in text
    assert backend.settings.support_hours in text


def test_rasa_answering_without_messages_gives_apology(backend):
    # What a turn looks like when the action server is down.
    assert texts(backend.chat("silent")) == apology(backend)


def test_rasa_error_status_gives_apology(backend):
    assert texts(backend.chat("error")) == apology(backend)


def test_rasa_down_gives_apology(start_backend, unused_port):
    down = start_backend(rasa_url=f"http://127.0.0.1:{unused_port}")
    assert texts(down.chat("hello")) == apology(down)


def test_rasa_timeout_gives_apology_and_late_answer_is_queued(start_backend):
    slow = start_backend(rasa_timeout_seconds=0.5)
    conversation = new_id()
    assert texts(slow.chat("slow hello", conversation)) == apology(slow)

    # The turn Rasa finished after the gateway gave up arrives with a later poll.
    late: list[str] = []
    deadline = time.monotonic() + 5
    while not late and time.monotonic() < deadline:
        time.sleep(0.1)
        late = texts(slow.get(f"/api/chat/{conversation}/messages"))
    assert late == ["late answer to hello"]


# --- the callback route and proactive messages ----------------------------------------------


def post_callback(backend, secret: str, payload: dict) -> httpx.Response:
    with backend.client() as client:
        return client.post(f"/rasa/callback/{secret}", json=payload)


@pytest.mark.parametrize("secret", ["wrong", "test-callback-secret-012345678", "x" * 100])
def test_callback_with_wrong_secret_is_403(backend, secret):
    response = post_callback(backend, secret, {"recipient_id": new_id(), "text": "hi"})
    assert response.status_code == 403


def test_proactive_messages_wait_for_the_next_poll(backend):
    conversation = new_id()
    secret = backend.settings.rasa_callback_secret
    for text in ("How was your delivery?", "Reply 1 to 5"):
        payload = {"recipient_id": conversation, "text": text}
        assert post_callback(backend, secret, payload).is_success

    first = backend.get(f"/api/chat/{conversation}/messages").json()
    assert first["conversation_id"] == conversation
    assert [m["text"] for m in first["messages"]] == ["How was your delivery?", "Reply 1 to 5"]
    assert backend.get(f"/api/chat/{conversation}/messages").json()["messages"] == []


def test_callback_accepts_rasa_extras(backend):
    conversation = new_id()
    payload = {
        "recipient_id": conversation,
        "text": None,
        "image": "https://example.org/parcel.png",
        "custom": {"handoff": True},
        "attachment": None,
        "buttons": [{"title": "Open", "payload": "/open", "type": "postback"}],
    }
    assert post_callback(backend, backend.settings.rasa_callback_secret, payload).is_success
    [message] = backend.get(f"/api/chat/{conversation}/messages").json()["messages"]
    assert message["image"] == "https://example.org/parcel.png"
    assert message["custom"] == {"handoff": True}
    assert message["buttons"] == [{"title": "Open", "payload": "/open"}]


def test_poll_with_bad_conversation_id_is_422(backend):
    assert backend.get("/api/chat/bad%20id/messages").status_code == 422


def test_callback_route_is_not_documented(backend):
    paths = backend.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/rasa") for path in paths)
    assert json.dumps(paths).count(backend.settings.rasa_callback_secret) == 0


# --- the customer store down ----------------------------------------------------------------


def test_store_down_the_bot_still_answers_over_http(start_backend):
    # The handoff check before the turn needs the store; its failure must not fail the chat.
    no_db = start_backend(database_url=UNREACHABLE_POSTGRES)
    response = no_db.chat("hello")
    assert texts(response) == ["echo: hello"]
    assert response.json()["customer_message_id"] is None  # not recorded, still answered
    # Abusive words look for an earlier calm answer in the store: still an answer, not a 503.
    assert texts(no_db.chat("you idiots")) == ["echo: you idiots"]


def test_store_down_a_threat_is_answered(start_backend):
    no_db = start_backend(database_url=UNREACHABLE_POSTGRES)
    assert texts(no_db.chat("I will burn your depot down")) == ["echo: I will burn your depot down"]
