"""The gateway's state in Redis, as several backend workers share it: two buses (two workers)
on this machine's Redis, database 11, which the tests flush before and after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from websockets.sync.client import connect

from backend.api import redis_bus
from backend.api.conversation_bus import BusUnavailable, make_bus, shared_redis, uses_redis
from backend.api.rate_limit import RedisRateLimiter
from backend.api.redis_bus import RedisBus
from backend.api.schemas import BotMessage, ChatMessagePublic
from backend.config import Settings
from tests.backend.api.conftest import callback, receive, ws_url

REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture(scope="module")
def redis_db() -> Iterator[str]:
    client = SyncRedis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except RedisError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def settings(redis_db: str) -> Settings:
    return Settings(gateway_state="redis", redis_url=redis_db, rasa_timeout_seconds=2.0)


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[list[RedisBus]]:
    """Two buses with their own clients and subscriptions, as two backend workers have."""
    clients = [shared_redis(settings) for _ in range(2)]
    buses = [RedisBus(settings, client) for client in clients if client is not None]
    for bus in buses:
        await bus.start()
    yield buses
    for bus, client in zip(buses, clients, strict=True):
        await bus.close()
        assert client is not None
        await client.aclose()


def conversation() -> str:
    return uuid.uuid4().hex


def message(text: str, **extra: Any) -> ChatMessagePublic:
    return ChatMessagePublic(text=text, sender="bot", **extra)


def test_production_keeps_the_gateway_state_in_redis() -> None:
    assert uses_redis(Settings(parcelline_mode="production"))
    assert not uses_redis(Settings())
    assert uses_redis(Settings(gateway_state="redis"))
    assert not uses_redis(Settings(parcelline_mode="production", gateway_state="memory"))
    with pytest.raises(ValueError, match="GATEWAY_STATE"):
        uses_redis(Settings(gateway_state="postgres"))
    assert type(make_bus(Settings(), None)).__name__ == "InMemoryBus"


async def test_a_callback_on_another_worker_reaches_the_waiting_turn(
    workers: list[RedisBus],
) -> None:
    turn_worker, callback_worker = workers
    cid = conversation()
    assert not await callback_worker.offer(cid, BotMessage(text="nobody waits"))
    async with turn_worker.turn_lock(cid):
        token = await turn_worker.open_turn(cid)
        for n in (1, 2, 3):
            assert await callback_worker.offer(cid, BotMessage(text=f"part {n}"))
        collected = await turn_worker.close_turn(cid, token)
    assert [m.text for m in collected] == ["part 1", "part 2", "part 3"]
    # The turn is over: a late message is no turn's.
    assert not await callback_worker.offer(cid, BotMessage(text="late"))


async def test_two_turns_of_one_conversation_on_two_workers_each_get_their_own(
    workers: list[RedisBus],
) -> None:
    cid = conversation()
    timeline: list[str] = []

    async def turn(bus: RedisBus, other: RedisBus, tag: str) -> list[str]:
        async with bus.turn_lock(cid):
            timeline.append(f"{tag} start")
            token = await bus.open_turn(cid)
            for n in range(4):
                # Rasa posts each message, awaiting it, to whichever worker takes it.
                await other.offer(cid, BotMessage(text=f"{tag}{n}"))
                await asyncio.sleep(0.02)
            got = await bus.close_turn(cid, token)
            timeline.append(f"{tag} end")
        return [m.text or "" for m in got]

    first, second = await asyncio.gather(
        turn(workers[0], workers[1], "a"), turn(workers[1], workers[0], "b")
    )
    assert first == ["a0", "a1", "a2", "a3"]
    assert second == ["b0", "b1", "b2", "b3"]
    # One turn at a time: the second started after the first ended.
    assert timeline in (
        ["a start", "a end", "b start", "b end"],
        ["b start", "b end", "a start", "a end"],
    )


async def test_a_held_lock_makes_the_next_turn_wait_then_give_up(settings: Settings) -> None:
    client = shared_redis(settings.model_copy(update={"rasa_timeout_seconds": 0.1}))
    assert client is not None
    bus = RedisBus(settings.model_copy(update={"rasa_timeout_seconds": 0.1}), client)
    cid = conversation()
    try:
        async with bus.turn_lock(cid):
            with pytest.raises(BusUnavailable, match="still held"):
                async with bus.turn_lock(cid):
                    pass
        async with bus.turn_lock(cid):  # released: free again
            pass
    finally:
        await client.aclose()


async def test_a_push_from_one_worker_reaches_a_socket_held_by_the_other(
    workers: list[RedisBus],
) -> None:
    socket_worker, pushing_worker = workers
    cid = conversation()
    queue = await socket_worker.subscribe(cid)
    assert await pushing_worker.connected(cid)
    await pushing_worker.dispatch(cid, message("An agent has joined", agent_name="Priya"))
    got = await asyncio.wait_for(queue.get(), 2)
    assert (got.text, got.agent_name) == ("An agent has joined", "Priya")
    assert await pushing_worker.take_pending(cid) == []  # delivered, not queued
    await socket_worker.unsubscribe(cid, queue)
    assert not await pushing_worker.connected(cid)


async def test_without_a_socket_messages_wait_in_order_within_bounds(
    workers: list[RedisBus],
) -> None:
    cid = conversation()
    for n in range(redis_bus.MAX_PENDING_PER_CONVERSATION + 5):
        await workers[0].dispatch(cid, message(f"m{n}"))
    # The socket opens on the other worker and starts with what waited, oldest kept last.
    queue = await workers[1].subscribe(cid)
    waited = [queue.get_nowait().text for _ in range(queue.qsize())]
    assert waited == [f"m{n}" for n in range(5, redis_bus.MAX_PENDING_PER_CONVERSATION + 5)]
    assert await workers[0].take_pending(cid) == []
    await workers[1].unsubscribe(cid, queue)


async def test_the_oldest_waiting_conversation_goes_when_too_many_wait(
    workers: list[RedisBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_bus, "MAX_PENDING_CONVERSATIONS", 3)
    await workers[0]._redis.delete("parcelline:gw:11:pending")
    ids = [conversation() for _ in range(4)]
    for cid in ids:
        await workers[0].dispatch(cid, message(f"for {cid}"))
        await asyncio.sleep(0.01)
    assert await workers[1].take_pending(ids[0]) == []
    for cid in ids[1:]:
        assert [m.text for m in await workers[1].take_pending(cid)] == [f"for {cid}"]


async def test_a_socket_and_a_recent_poll_make_conversations_open(
    workers: list[RedisBus],
) -> None:
    connected, polled, stale = conversation(), conversation(), conversation()
    await workers[1].touch(stale)
    await asyncio.sleep(1.1)
    queue = await workers[0].subscribe(connected)
    await workers[1].touch(polled)
    found = await workers[1].open_conversations(within_seconds=1.0)
    assert found[0] == connected
    assert polled in found and stale not in found
    await workers[0].unsubscribe(connected, queue)
    assert connected not in await workers[1].open_conversations(within_seconds=1.0)


async def test_the_rate_limit_is_counted_across_workers(settings: Settings) -> None:
    limited = settings.model_copy(update={"chat_rate_per_conversation": 3, "chat_rate_per_ip": 4})
    clients = [shared_redis(limited) for _ in range(2)]
    limiters = [RedisRateLimiter(limited, c, clock=lambda: 6_000.0) for c in clients if c]
    try:
        cid = conversation()
        ip = f"10.9.{uuid.uuid4().int % 250}.1"
        said = [await limiters[n % 2].allow(cid, ip) for n in range(4)]
        assert said == [True, True, True, False]
        # The address has used 3 of its 4: one more conversation gets one message through.
        other = conversation()
        assert await limiters[1].allow(other, ip)
        assert not await limiters[0].allow(other, ip)
        # A refused message was not counted: a fresh minute starts from zero.
        later = [RedisRateLimiter(limited, c, clock=lambda: 6_060.0) for c in clients if c]
        assert await later[0].allow(cid, ip)
    finally:
        for client in clients:
            assert client is not None
            await client.aclose()


async def test_redis_down_means_busunavailable_not_a_crash() -> None:
    settings = Settings(gateway_state="redis", redis_url="redis://127.0.0.1:9/0")
    client = shared_redis(settings)
    assert client is not None
    bus = RedisBus(settings, client)
    try:
        with pytest.raises(BusUnavailable):
            async with bus.turn_lock(conversation()):
                pass
        with pytest.raises(BusUnavailable):
            await bus.dispatch(conversation(), message("x"))
        limiter = RedisRateLimiter(settings.model_copy(update={"chat_rate_per_ip": 1}), client)
        assert await limiter.allow(conversation(), "10.0.0.1")  # let through, not an error
    finally:
        await client.aclose()


def test_two_backends_on_one_redis_share_turns_and_pushes(start_backend, redis_db) -> None:
    """Two backend apps (two workers) on one Redis: the fake Rasa answers a turn asked of the
    first through the second's callback route, and a push made through the second reaches a
    socket of the first."""
    first = start_backend(gateway_state="redis", redis_url=redis_db)
    second = start_backend(gateway_state="redis", redis_url=redis_db)
    assert first.rasa is not None and second.rasa is not None
    first.rasa.callback_url = second.rasa.callback_url
    cid = conversation()
    answer = first.chat("three tag", cid)
    assert answer.status_code == 200
    assert [m["text"] for m in answer.json()["messages"]] == ["tag 1", "tag 2", "tag 3"]

    with connect(ws_url(first, conversation_id=cid)) as socket:
        assert receive(socket)["type"] == "ready"
        receive(socket)  # the transcript so far
        # A proactive message Rasa posts outside any turn, taken by the second backend.
        callback(second, cid, "How did we do?")
        frame = receive(socket)
    assert frame["type"] == "push"
    assert [m["text"] for m in frame["messages"]] == ["How did we do?"]
