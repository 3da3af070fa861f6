"""Event times per key over a sliding window, for a bounded number of keys: what the chat rate
limiter and the sign-in throttle both count with. Not thread-safe: callers hold their lock."""

from __future__ import annotations

from collections import OrderedDict, deque


class SlidingWindows:
    def __init__(self, seconds: float, max_keys: int) -> None:
        self.seconds = seconds
        # Bounded, so a flood of fresh keys (conversation ids, addresses) cannot grow memory
        # forever: the key used least recently goes first.
        self.max_keys = max_keys
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def window(self, key: str, now: float) -> deque[float]:
        """The key's times within the window, created when missing and marked as just used."""
        times = self._times.get(key)
        if times is None:
            if len(self._times) >= self.max_keys:
                self._times.popitem(last=False)
            times = self._times[key] = deque()
        self._times.move_to_end(key)
        self._expire(times, now)
        return times

    def current(self, key: str, now: float) -> deque[float] | None:
        """The key's times within the window, without creating it or marking it used."""
        times = self._times.get(key)
        if times is not None:
            self._expire(times, now)
        return times

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.seconds:
            times.popleft()
