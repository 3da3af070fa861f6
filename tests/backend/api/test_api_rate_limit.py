"""Messages per minute per conversation and per client address: the limiter, and over HTTP."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from websockets.sync.client import connect

from backend.api.rate_limit import RateLimiter, rate_limited_reply
from backend.config import Settings
from tests.backend.api.conftest import receive, ws_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(per_conversation: int = 3, per_ip: int = 5) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    settings = Settings(chat_rate_per_conversation=per_conversation, chat_rate_per_ip=per_ip)
    return RateLimiter(settings, clock=clock), clock


async def test_a_conversation_gets_its_limit_per_minute_then_waits() -> None:
    limits, clock = limiter(per_conversation=3)
    assert [await limits.allow("conv-1", "10.0.0.1") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    clock.now += 59
    assert not await limits.allow("conv-1", "10.0.0.1")
    clock.now += 1.5  # the first three are now more than a minute old
    assert await limits.allow("conv-1", "10.0.0.1")


async def test_an_address_is_limited_across_its_conversations() -> None:
    limits, _ = limiter(per_conversation=3, per_ip=5)
    allowed = [await limits.allow(f"conv-{n}", "10.0.0.1") for n in range(6)]
    assert allowed == [True] * 5 + [False]
    assert await limits.allow("conv-9", "10.0.0.2")  # another address is not affected


async def test_a_refused_message_is_not_counted() -> None:
    limits, clock = limiter(per_conversation=2, per_ip=100)
    assert await limits.allow("conv-1", "10.0.0.1") and await limits.allow("conv-1", "10.0.0.1")
    for _ in range(10):
        assert not await limits.allow("conv-1", "10.0.0.1")
    clock.now += 61
    assert await limits.allow("conv-1", "10.0.0.1")


async def test_refused_by_the_address_limit_counts_nothing_for_the_conversation() -> None:
    limits, clock = limiter(per_conversation=2, per_ip=2)
    assert await limits.allow("conv-1", "10.0.0.1") and await limits.allow("conv-2", "10.0.0.1")
    assert not await limits.allow("conv-3", "10.0.0.1")
    clock.now += 61
    assert await limits.allow("conv-3", "10.0.0.2") and await limits.allow("conv-3", "10.0.0.2")


async def test_zero_means_no_limit() -> None:
    limits, _ = limiter(per_conversation=0, per_ip=0)
    assert all([await limits.allow("conv-1", "10.0.0.1") for _ in range(500)])


def test_over_the_limit_over_http_is_a_polite_notice_and_no_turn(start_backend) -> None:
    backend = start_backend(chat_rate_per_conversation=2, chat_rate_per_ip=100)
    conversation = uuid.uuid4().hex
    answers = [backend.chat(f"hello {n}", conversation) for n in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[2].json()["messages"][0]["text"] == rate_limited_reply().text
    assert answers[2].json()["customer_message_id"] is None
    assert backend.rasa is not None
    assert backend.rasa.messages_from(conversation) == ["hello 0", "hello 1"]
    history = backend.get(f"/api/chat/{conversation}/history").json()["messages"]
    assert [m["text"] for m in history] == ["hello 0", "echo: hello 0", "hello 1", "echo: hello 1"]


def test_the_address_limit_spans_conversations_over_http(start_backend) -> None:
    backend = start_backend(chat_rate_per_conversation=100, chat_rate_per_ip=2)
    texts = [backend.chat("hi", uuid.uuid4().hex).json()["messages"][0]["text"] for _ in "123"]
    assert texts == ["echo: hi", "echo: hi", rate_limited_reply().text]


# --- bursts: many messages at once, over both transports --------------------------------------


def test_a_burst_over_http_gets_notices_and_never_a_5xx(start_backend) -> None:
    backend = start_backend(chat_rate_per_conversation=5, chat_rate_per_ip=1000)
    conversation = uuid.uuid4().hex
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda n: backend.chat(f"burst {n}", conversation), range(30)))

    assert [a.status_code for a in answers] == [200] * 30
    said = [a.json()["messages"][0]["text"] for a in answers]
    assert said.count(rate_limited_reply().text) == 25
    assert backend.rasa is not None and len(backend.rasa.messages_from(conversation)) == 5
    history = backend.get(f"/api/chat/{conversation}/history").json()["messages"]
    assert len(history) == 10  # the five accepted messages and their answers, nothing else


def test_a_burst_over_the_websocket_gets_notices_and_the_socket_stays(start_backend) -> None:
    backend = start_backend(chat_rate_per_conversation=5, chat_rate_per_ip=1000)
    with connect(ws_url(backend)) as socket:
        conversation = receive(socket)["conversation_id"]
        for ref in range(30):  # all sent before any answer is read
            socket.send(json.dumps({"type": "message", "text": f"burst {ref}", "ref": ref}))
        frames = [receive(socket, timeout=20) for _ in range(30)]
        socket.send(json.dumps({"type": "ping"}))
        assert receive(socket) == {"type": "pong"}

    assert {f["type"] for f in frames} == {"reply"}
    assert sorted(f["ref"] for f in frames) == list(range(30))
    notices = [f for f in frames if f["messages"][0]["text"] == rate_limited_reply().text]
    assert len(notices) == 25 and all(f["customer_message_id"] is None for f in notices)
    assert backend.rasa is not None and len(backend.rasa.messages_from(conversation)) == 5


def test_a_burst_from_one_address_over_many_conversations(start_backend) -> None:
    backend = start_backend(chat_rate_per_conversation=100, chat_rate_per_ip=8)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda n: backend.chat("hi", uuid.uuid4().hex), range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    said = [a.json()["messages"][0]["text"] for a in answers]
    assert said.count(rate_limited_reply().text) == 12 and said.count("echo: hi") == 8
