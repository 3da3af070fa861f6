"""The gateway's shared state in process memory: the embedded default, one backend worker."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from backend.api.conversation_bus import (
    MAX_PENDING_CONVERSATIONS,
    MAX_PENDING_PER_CONVERSATION,
    SOCKET_QUEUE_SIZE,
)
from backend.api.schemas import BotMessage, ChatMessagePublic

logger = logging.getLogger("backend.api.gateway")


@dataclass
class _Slot:
    """Per-conversation turn lock; `users` counts holders and waiters so idle slots can go."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def put_dropping_oldest(
    queue: asyncio.Queue[ChatMessagePublic], message: ChatMessagePublic
) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


class InMemoryBus:
    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        # The running turn's token and messages, per conversation.
        self._collectors: dict[str, tuple[str, list[BotMessage]]] = {}
        self._pending: OrderedDict[str, deque[ChatMessagePublic]] = OrderedDict()
        # Queues of the WebSockets open per conversation (a shipper may have two tabs).
        self._sockets: dict[str, set[asyncio.Queue[ChatMessagePublic]]] = {}
        self._last_seen: OrderedDict[str, float] = OrderedDict()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    @asynccontextmanager
    async def turn_lock(self, conversation_id: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault(conversation_id, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[conversation_id]

    async def open_turn(self, conversation_id: str) -> str:
        token = secrets.token_hex(8)
        self._collectors[conversation_id] = (token, [])
        return token

    async def close_turn(self, conversation_id: str, token: str) -> list[BotMessage]:
        running = self._collectors.get(conversation_id)
        if running is None or running[0] != token:
            return []
        del self._collectors[conversation_id]
        return running[1]

    async def offer(self, conversation_id: str, message: BotMessage) -> bool:
        running = self._collectors.get(conversation_id)
        if running is None:
            return False
        running[1].append(message)
        return True

    async def dispatch(self, conversation_id: str, message: ChatMessagePublic) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets:
            for queue in sockets:
                put_dropping_oldest(queue, message)
            logger.info("pushed message conversation=%s sockets=%d", conversation_id, len(sockets))
            return
        queue = self._pending.get(conversation_id)
        if queue is None:
            if len(self._pending) >= MAX_PENDING_CONVERSATIONS:
                dropped, _ = self._pending.popitem(last=False)
                logger.warning("pending queue full, dropped conversation=%s", dropped)
            queue = self._pending[conversation_id] = deque(maxlen=MAX_PENDING_PER_CONVERSATION)
        queue.append(message)
        logger.info("queued proactive message conversation=%s", conversation_id)

    async def take_pending(self, conversation_id: str) -> list[ChatMessagePublic]:
        queue = self._pending.pop(conversation_id, None)
        return list(queue) if queue else []

    async def subscribe(self, conversation_id: str) -> asyncio.Queue[ChatMessagePublic]:
        queue: asyncio.Queue[ChatMessagePublic] = asyncio.Queue(maxsize=SOCKET_QUEUE_SIZE)
        for message in (await self.take_pending(conversation_id))[-SOCKET_QUEUE_SIZE:]:
            queue.put_nowait(message)
        self._sockets.setdefault(conversation_id, set()).add(queue)
        return queue

    async def unsubscribe(
        self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]
    ) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(queue)
            if not sockets:
                del self._sockets[conversation_id]

    async def connected(self, conversation_id: str) -> bool:
        return bool(self._sockets.get(conversation_id))

    async def touch(self, conversation_id: str) -> None:
        self._last_seen[conversation_id] = time.monotonic()
        self._last_seen.move_to_end(conversation_id)
        while len(self._last_seen) > MAX_PENDING_CONVERSATIONS:
            self._last_seen.popitem(last=False)

    async def open_conversations(self, within_seconds: float) -> list[str]:
        cutoff = time.monotonic() - within_seconds
        recent = [cid for cid, seen in reversed(self._last_seen.items()) if seen >= cutoff]
        return connected_first(recent, list(self._sockets))


def connected_first(recent: list[str], connected: list[str]) -> list[str]:
    """Connected conversations (the recently seen first), then the other recent ones."""
    open_now = set(connected)
    ordered = [cid for cid in recent if cid in open_now]
    already = set(ordered)
    ordered += [cid for cid in connected if cid not in already]
    return ordered + [cid for cid in recent if cid not in open_now]
