"""Messages per minute, per conversation and per client IP: one limiter for HTTP and WebSocket.

A sliding window of accepted-message times per key, in process memory like the gateway's state
(one worker per process). Only accepted messages count, so a sender who waits gets through.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from backend.api.schemas import BotMessage
from backend.config import Settings

WINDOW_SECONDS = 60.0
# Bound on keys kept, so a flood of fresh conversation ids or addresses cannot grow memory forever.
MAX_KEYS = 50_000


def rate_limited_reply() -> BotMessage:
    return BotMessage(
        text="You're sending messages faster than I can keep up with — please wait a minute "
        "and send your message again."
    )


class RateLimiter:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = {
            "conversation": settings.chat_rate_per_conversation,
            "ip": settings.chat_rate_per_ip,
        }
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, conversation_id: str, client_ip: str | None) -> bool:
        """Count one message and say True, or say False (and count nothing) when over a limit."""
        now = self._clock()
        keys = [("conversation", f"c:{conversation_id}")]
        if client_ip:
            keys.append(("ip", f"i:{client_ip}"))
        with self._lock:
            windows = []
            for kind, key in keys:
                limit = self._limits[kind]
                if limit <= 0:
                    continue
                window = self._window(key, now)
                if len(window) >= limit:
                    return False
                windows.append(window)
            for window in windows:
                window.append(now)
            return True

    def _window(self, key: str, now: float) -> deque[float]:
        window = self._hits.get(key)
        if window is None:
            if len(self._hits) >= MAX_KEYS:
                self._hits.popitem(last=False)
            window = self._hits[key] = deque()
        self._hits.move_to_end(key)
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        return window
