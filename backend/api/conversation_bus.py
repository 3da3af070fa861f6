"""What the gateway's workers share about conversations, behind one interface.

A turn is collected, a message pushed or queued, a conversation locked or seen through a
`ConversationBus`. The embedded default keeps all of it in the process (`InMemoryBus`: one
backend worker); production keeps it in Redis (`RedisBus`), so any number of backend workers
behind one port see the same turns, sockets, queues and locks. `GATEWAY_STATE` chooses
("memory" or "redis"); empty means Redis in production mode and memory otherwise.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from backend.api.schemas import BotMessage, ChatMessagePublic
from backend.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Bounds on undelivered proactive messages, so a silent widget cannot grow memory forever.
MAX_PENDING_PER_CONVERSATION = 50
MAX_PENDING_CONVERSATIONS = 10_000
# Messages a connected socket may fall behind by before the oldest are dropped (it re-syncs
# from the transcript when it reconnects).
SOCKET_QUEUE_SIZE = 100


class BusUnavailable(RuntimeError):
    """The shared state cannot be reached (Redis down): the caller apologises or degrades."""


class ConversationBus(Protocol):
    async def start(self) -> None:
        """Connect (called once the worker's event loop runs)."""

    async def close(self) -> None: ...

    def turn_lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Held for a customer turn or a triggered intent: one at a time per conversation,
        whichever worker runs it."""
        ...

    async def open_turn(self, conversation_id: str) -> str:
        """Start collecting the conversation's bot messages for the running turn (under the
        turn lock); returns the turn's token for `close_turn`."""
        ...

    async def close_turn(self, conversation_id: str, token: str) -> list[BotMessage]:
        """Stop collecting; every message offered to the turn, in the order offered."""
        ...

    async def offer(self, conversation_id: str, message: BotMessage) -> bool:
        """Give a message Rasa posted back to the conversation's running turn; False when
        no turn is collecting."""
        ...

    async def dispatch(self, conversation_id: str, message: ChatMessagePublic) -> None:
        """To every open socket of the conversation, else to the queue the widget polls."""
        ...

    async def take_pending(self, conversation_id: str) -> list[ChatMessagePublic]:
        """Return and forget the messages waiting for this conversation."""
        ...

    async def subscribe(self, conversation_id: str) -> asyncio.Queue[ChatMessagePublic]:
        """A queue that receives the conversation's messages from now on, starting with
        those waiting for it."""
        ...

    async def unsubscribe(
        self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]
    ) -> None: ...

    async def connected(self, conversation_id: str) -> bool:
        """Whether a socket of this conversation is open (in any worker)."""
        ...

    async def touch(self, conversation_id: str) -> None:
        """The widget spoke or polled just now."""
        ...

    async def open_conversations(self, within_seconds: float) -> list[str]:
        """Conversations with a socket open, then those seen in the last `within_seconds`,
        newest first."""
        ...


def uses_redis(settings: Settings) -> bool:
    choice = settings.gateway_state.strip().lower()
    if choice not in ("", "memory", "redis"):
        raise ValueError(f"GATEWAY_STATE must be memory or redis, not {settings.gateway_state!r}")
    return choice == "redis" or (not choice and settings.production)


def shared_redis(settings: Settings) -> Redis | None:
    """The worker's Redis client when the gateway state lives there, else None."""
    if not uses_redis(settings):
        return None
    from redis.asyncio import Redis

    # Short timeouts: a turn apologises rather than hangs when Redis does not answer.
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=3,
        health_check_interval=30,
    )


def make_bus(settings: Settings, redis: Redis | None) -> ConversationBus:
    if redis is None:
        from backend.api.memory_bus import InMemoryBus

        return InMemoryBus()
    from backend.api.redis_bus import RedisBus

    return RedisBus(settings, redis)
