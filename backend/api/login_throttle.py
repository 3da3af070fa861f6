"""Failed sign-ins per client address: past the limit, that address waits before trying again.

The account lockout (backend/agents/service.py) stops guessing one password; this stops one
address guessing many, and caps how many accounts it can lock out on purpose. Counted in
process memory like the chat limiter (one backend worker); a refused address costs no password
hash, so a flood of attempts cannot burn CPU either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from backend.api.sliding_windows import SlidingWindows

# Bound on addresses kept, so a flood from many addresses cannot grow memory forever.
MAX_ADDRESSES = 50_000
TOO_MANY = (
    "Too many failed sign-ins from your network. Please wait {minutes} minutes and try again, "
    "or ask a manager to check your account."
)


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures  # 0: no limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures = SlidingWindows(window_seconds, MAX_ADDRESSES)
        self._lock = threading.Lock()

    def retry_after(self, address: str | None) -> int:
        """Seconds this address must wait before its next attempt (0: it may try now)."""
        if not address or self.max_failures <= 0:
            return 0
        now = self._clock()
        with self._lock:
            window = self._failures.current(address, now)
            if window is None or len(window) < self.max_failures:
                return 0
            return max(1, int(window[0] + self.window_seconds - now) + 1)

    def failed(self, address: str | None) -> None:
        if not address or self.max_failures <= 0:
            return
        now = self._clock()
        with self._lock:
            self._failures.window(address, now).append(now)
