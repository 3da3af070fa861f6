"""The gateway's shared state in Redis, so several backend workers serve one port.

Rasa posts a turn's bot messages to the callback route, and with several workers that POST may
land on any of them, not the one whose turn is waiting. So:

- **Turn lock:** a Redis lock per conversation (with a timeout, so a dead worker cannot hold
  it for ever): one customer turn or triggered intent at a time, across workers.
- **Turn collector:** the turn's worker writes a token to `turn:<id>`; the callback's worker
  appends each message to the list `turn:<id>:<token>` (one script: check and append). Rasa
  awaits each callback POST before the next and answers the webhook only after the last, so
  when the webhook returns every message of the turn is in the list, in order: the turn's
  worker reads and deletes it. A list, not pub/sub, because a published message could still be
  on its way to the turn's worker when the webhook's answer arrives.
- **Sockets:** each worker subscribes to `chat:<id>` while it holds a socket of that
  conversation. A message outside a turn is published there; when nobody received it
  (PUBLISH counts the subscribers) the same script queues it in `pending:<id>` for polling,
  with the in-memory bounds (50 per conversation, 10,000 conversations, the oldest dropped).
  A worker that dies takes its subscriptions with it, so nothing is published into the void.
- **Last seen:** a sorted set of conversations by the time the widget last spoke or polled.

Keys and channels start with `parcelline:gw:<db>:` (Pub/Sub ignores database numbers, so the
number keeps two deployments on one Redis apart).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from redis.exceptions import LockError, RedisError

from backend.api.conversation_bus import (
    MAX_PENDING_CONVERSATIONS,
    MAX_PENDING_PER_CONVERSATION,
    SOCKET_QUEUE_SIZE,
    BusUnavailable,
)
from backend.api.memory_bus import connected_first, put_dropping_oldest
from backend.api.schemas import BotMessage, ChatMessagePublic
from backend.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

logger = logging.getLogger("backend.api.gateway")

# Seconds to wait for Redis to confirm a subscription before the socket is refused.
SUBSCRIBE_TIMEOUT = 5.0

# Append to the running turn's list, if a turn is collecting (KEYS: turn key; ARGV: message, ttl).
OFFER = """
local token = redis.call('GET', KEYS[1])
if not token then return 0 end
local list = KEYS[1] .. ':' .. token
redis.call('RPUSH', list, ARGV[1])
redis.call('EXPIRE', list, ARGV[2])
return 1
"""
# End the turn and hand over what it collected (KEYS: turn key; ARGV: token).
CLOSE_TURN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local list = KEYS[1] .. ':' .. ARGV[1]
local items = redis.call('LRANGE', list, 0, -1)
redis.call('DEL', list)
return items
"""
# To the sockets, else the pending queue (KEYS: channel, pending list, pending index;
# ARGV: message, now, per conversation, conversations, conversation id, pending key prefix).
DISPATCH = """
if redis.call('PUBLISH', KEYS[1], ARGV[1]) > 0 then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if over > 0 then
  for _, dropped in ipairs(redis.call('ZRANGE', KEYS[3], 0, over - 1)) do
    redis.call('DEL', ARGV[6] .. dropped)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
end
return 0
"""
# Return and forget a conversation's pending messages (KEYS: list, index; ARGV: conversation).
TAKE_PENDING = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return items
"""


@dataclass
class _Local:
    """This worker's sockets of one conversation."""

    queues: set[asyncio.Queue[ChatMessagePublic]] = field(default_factory=set)
    # Sockets still taking their pending messages, with what was published meanwhile
    # (handed to them after the pending ones, so the order holds).
    joining: dict[asyncio.Queue[ChatMessagePublic], list[ChatMessagePublic]] = field(
        default_factory=dict
    )


class RedisBus:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        self._redis = redis
        db = redis.connection_pool.connection_kwargs.get("db", 0)
        self._prefix = f"parcelline:gw:{db}:"
        # A turn holds the lock while Rasa runs it; past this the lock frees itself (a worker
        # that died mid-turn), well after the gateway gave up on Rasa.
        self._lock_seconds = settings.rasa_timeout_seconds + 30
        # A turn waits this long for the conversation's previous one before apologising.
        self._wait_seconds = 2 * settings.rasa_timeout_seconds + 10
        self._offer = redis.register_script(OFFER)
        self._close_turn = redis.register_script(CLOSE_TURN)
        self._dispatch = redis.register_script(DISPATCH)
        self._take_pending = redis.register_script(TAKE_PENDING)
        self._chats = self._prefix + "chat:"
        self._pendings = self._prefix + "pending:"
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._local: dict[str, _Local] = {}
        # Channels this worker is subscribed to; changed one at a time, so an unsubscribe for a
        # conversation's last socket cannot overtake the subscribe for its next.
        self._subscribed: set[str] = set()
        self._subscribing = asyncio.Lock()
        # Futures of SUBSCRIBE commands awaiting Redis's confirmation, per channel, in the order
        # sent (one connection answers in order).
        self._confirms: dict[str, deque[asyncio.Future[None]]] = {}

    def _key(self, kind: str, conversation_id: str) -> str:
        return f"{self._prefix}{kind}:{conversation_id}"

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        # The worker's own channel keeps the subscription connection open from the start, so
        # the reader always has a connection to wait on.
        await self._subscribe(self._key("worker", uuid.uuid4().hex))
        self._reader = asyncio.create_task(self._read_forever())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()

    # ------------------------------------------------------------------ turns

    @asynccontextmanager
    async def turn_lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._redis.lock(
            self._key("lock", conversation_id),
            timeout=self._lock_seconds,
            sleep=0.02,
            blocking_timeout=self._wait_seconds,
            thread_local=False,
        )
        try:
            acquired = await lock.acquire()
        except RedisError as exc:
            raise BusUnavailable(f"turn lock: {type(exc).__name__}: {exc}") from exc
        if not acquired:
            raise BusUnavailable(f"turn lock still held after {self._wait_seconds:g}s")
        try:
            yield
        finally:
            try:
                await lock.release()
            except (LockError, RedisError) as exc:  # expired, or Redis went away meanwhile
                logger.warning("turn lock conversation=%s not released: %s", conversation_id, exc)

    async def open_turn(self, conversation_id: str) -> str:
        token = secrets.token_hex(8)
        try:
            await self._redis.set(
                self._key("turn", conversation_id), token, ex=int(self._lock_seconds)
            )
        except RedisError as exc:
            raise BusUnavailable(f"open turn: {exc}") from exc
        return token

    async def close_turn(self, conversation_id: str, token: str) -> list[BotMessage]:
        try:
            items = await self._close_turn(keys=[self._key("turn", conversation_id)], args=[token])
        except RedisError as exc:
            raise BusUnavailable(f"close turn: {exc}") from exc
        return [BotMessage.model_validate_json(item) for item in items]

    async def offer(self, conversation_id: str, message: BotMessage) -> bool:
        try:
            taken = await self._offer(
                keys=[self._key("turn", conversation_id)],
                args=[message.model_dump_json(), int(self._lock_seconds)],
            )
        except RedisError as exc:
            raise BusUnavailable(f"offer: {exc}") from exc
        return bool(taken)

    # ------------------------------------------------------------------ delivery

    async def dispatch(self, conversation_id: str, message: ChatMessagePublic) -> None:
        try:
            published = await self._dispatch(
                keys=[
                    self._chats + conversation_id,
                    self._pendings + conversation_id,
                    self._prefix + "pending",
                ],
                args=[
                    message.model_dump_json(),
                    time.time(),
                    MAX_PENDING_PER_CONVERSATION,
                    MAX_PENDING_CONVERSATIONS,
                    conversation_id,
                    self._pendings,
                ],
            )
        except RedisError as exc:
            raise BusUnavailable(f"dispatch: {exc}") from exc
        what = "pushed message" if published else "queued proactive message"
        logger.info("%s conversation=%s", what, conversation_id)

    async def take_pending(self, conversation_id: str) -> list[ChatMessagePublic]:
        try:
            items = await self._take_pending(
                keys=[self._pendings + conversation_id, self._prefix + "pending"],
                args=[conversation_id],
            )
        except RedisError as exc:
            raise BusUnavailable(f"take pending: {exc}") from exc
        return [ChatMessagePublic.model_validate_json(item) for item in items]

    async def subscribe(self, conversation_id: str) -> asyncio.Queue[ChatMessagePublic]:
        queue: asyncio.Queue[ChatMessagePublic] = asyncio.Queue(maxsize=SOCKET_QUEUE_SIZE)
        local = self._local.setdefault(conversation_id, _Local())
        local.joining[queue] = []
        try:
            # Subscribed before the pending queue is read: a message published from now on
            # reaches this worker, one dispatched before is in the queue.
            async with self._subscribing:
                channel = self._chats + conversation_id
                if channel not in self._subscribed:
                    await self._subscribe(channel)
                    self._subscribed.add(channel)
            waiting = await self.take_pending(conversation_id)
        except BaseException:
            with suppress(RedisError, BusUnavailable):
                await self._forget(conversation_id, queue)
            raise
        for message in [*waiting[-SOCKET_QUEUE_SIZE:], *local.joining.pop(queue)]:
            put_dropping_oldest(queue, message)
        local.queues.add(queue)
        return queue

    async def unsubscribe(
        self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]
    ) -> None:
        try:
            await self._forget(conversation_id, queue)
        except RedisError as exc:
            logger.warning("unsubscribe conversation=%s: %s", conversation_id, exc)

    async def _forget(self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]) -> None:
        local = self._local.get(conversation_id)
        if local is None:
            return
        local.queues.discard(queue)
        local.joining.pop(queue, None)
        if local.queues or local.joining:
            return
        del self._local[conversation_id]
        async with self._subscribing:
            channel = self._chats + conversation_id
            # A socket of the conversation may have come in while this one waited.
            if conversation_id not in self._local and channel in self._subscribed:
                self._subscribed.discard(channel)
                assert self._pubsub is not None
                await self._pubsub.unsubscribe(channel)

    async def _subscribe(self, channel: str) -> None:
        assert self._pubsub is not None
        confirmed = asyncio.get_running_loop().create_future()
        self._confirms.setdefault(channel, deque()).append(confirmed)
        try:
            await self._pubsub.subscribe(channel)
            if self._reader is None:  # at start: the reader is not running yet
                await self._read_one()
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        except (RedisError, TimeoutError) as exc:
            waiting = self._confirms.get(channel)
            if waiting is not None and confirmed in waiting:
                waiting.remove(confirmed)
            raise BusUnavailable(f"subscribe: {type(exc).__name__}: {exc}") from exc

    async def _read_forever(self) -> None:
        while True:
            try:
                await self._read_one()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError) as exc:
                # The client reconnects and subscribes again on its own; until then, wait.
                logger.warning("redis subscription: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _read_one(self) -> None:
        assert self._pubsub is not None
        message: dict[str, Any] | None = await self._pubsub.get_message(timeout=None)
        if message is None:
            return
        kind, channel = message["type"], str(message["channel"])
        if kind == "subscribe":
            waiting = self._confirms.get(channel)
            if waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
            if not waiting:
                self._confirms.pop(channel, None)
        elif kind == "message":
            self._deliver_locally(channel.removeprefix(self._chats), message)

    def _deliver_locally(self, conversation_id: str, message: dict[str, Any]) -> None:
        local = self._local.get(conversation_id)
        if local is None:
            return  # its last socket closed while the message was on its way
        try:
            public = ChatMessagePublic.model_validate_json(message["data"])
        except ValidationError as exc:
            logger.error("unreadable message on %s: %s", message["channel"], exc)
            return
        for queue in local.queues:
            put_dropping_oldest(queue, public)
        for held in local.joining.values():
            held.append(public)

    async def connected(self, conversation_id: str) -> bool:
        try:
            [(_, subscribers)] = await self._redis.pubsub_numsub(self._chats + conversation_id)
        except RedisError as exc:
            raise BusUnavailable(f"connected: {exc}") from exc
        return int(subscribers) > 0

    # ------------------------------------------------------------------ last seen

    async def touch(self, conversation_id: str) -> None:
        seen = self._prefix + "seen"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(seen, {conversation_id: time.time()})
                pipe.zremrangebyrank(seen, 0, -(MAX_PENDING_CONVERSATIONS + 1))
                await pipe.execute()
        except RedisError as exc:
            raise BusUnavailable(f"touch: {exc}") from exc

    async def open_conversations(self, within_seconds: float) -> list[str]:
        try:
            recent = await self._redis.zrevrangebyscore(
                self._prefix + "seen", "+inf", time.time() - within_seconds
            )
            # Channels with a subscriber: conversations with a socket open in some worker.
            subscribed = await self._redis.pubsub_channels(self._chats + "*")
        except RedisError as exc:
            raise BusUnavailable(f"open conversations: {exc}") from exc
        return connected_first(list(recent), [c.removeprefix(self._chats) for c in subscribed])
