"""Messages per minute, per conversation and per client IP: one limiter for HTTP and WebSocket.

Two implementations of `allow`, chosen with the gateway's state (backend.api.conversation_bus):
`RateLimiter`, a sliding window of accepted-message times per key in process memory (one
worker), and `RedisRateLimiter`, a fixed one-minute window counted in Redis, so every backend
worker counts against the same limit. Only accepted messages count, so a sender who waits gets
through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

from backend.api.schemas import BotMessage
from backend.api.sliding_windows import SlidingWindows
from backend.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("backend.api.chat")

WINDOW_SECONDS = 60.0
# Bound on keys kept, so a flood of fresh conversation ids or addresses cannot grow memory forever.
MAX_KEYS = 50_000


def rate_limited_reply() -> BotMessage:
    return BotMessage(
        text="You're sending messages faster than I can keep up with — please wait a minute "
        "and send your message again."
    )


class Limiter(Protocol):
    async def allow(self, conversation_id: str, client_ip: str | None) -> bool:
        """Count one message and say True, or say False (and count nothing) when over a limit."""
        ...


def _limited_keys(
    settings: Settings, conversation_id: str, client_ip: str | None
) -> list[tuple[str, int]]:
    """The counters a message goes against, with their limits (none for a limit of 0)."""
    keys = [(f"c:{conversation_id}", settings.chat_rate_per_conversation)]
    if client_ip:
        keys.append((f"i:{client_ip}", settings.chat_rate_per_ip))
    return [(key, limit) for key, limit in keys if limit > 0]


class RateLimiter:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._hits = SlidingWindows(WINDOW_SECONDS, MAX_KEYS)
        self._lock = threading.Lock()

    async def allow(self, conversation_id: str, client_ip: str | None) -> bool:
        """Count one message and say True, or say False (and count nothing) when over a limit."""
        now = self._clock()
        with self._lock:
            windows = []
            for key, limit in _limited_keys(self._settings, conversation_id, client_ip):
                window = self._hits.window(key, now)
                if len(window) >= limit:
                    return False
                windows.append(window)
            for window in windows:
                window.append(now)
            return True


# Refuse when any counter is at its limit, else count the message in every one
# (KEYS: counters; ARGV: their limits, then the counters' lifetime in seconds).
COUNT_IF_UNDER = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[#ARGV]) end
end
return 1
"""


class RedisRateLimiter:
    """A fixed window per minute (at most twice the limit across a minute's boundary), shared
    by every backend worker on the Redis."""

    def __init__(
        self, settings: Settings, redis: Redis, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._clock = clock
        db = redis.connection_pool.connection_kwargs.get("db", 0)
        self._prefix = f"parcelline:gw:{db}:rate:"
        self._count = redis.register_script(COUNT_IF_UNDER)

    async def allow(self, conversation_id: str, client_ip: str | None) -> bool:
        limited = _limited_keys(self._settings, conversation_id, client_ip)
        if not limited:
            return True
        window = int(self._clock() // WINDOW_SECONDS)
        keys = [f"{self._prefix}{key}:{window}" for key, _ in limited]
        try:
            counted = await self._count(
                keys=keys, args=[*(limit for _, limit in limited), int(WINDOW_SECONDS) + 5]
            )
        except RedisError as exc:
            # The limit protects the assistant; a Redis fault must not silence the chat.
            logger.warning("rate limit not checked (%s): message let through", exc)
            return True
        return bool(counted)


def make_rate_limiter(settings: Settings, redis: Redis | None) -> Limiter:
    return RateLimiter(settings) if redis is None else RedisRateLimiter(settings, redis)
