"""The per-address sign-in throttle on its own clock: the window slides, addresses are apart."""

from __future__ import annotations

from backend.api.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_past_the_limit_an_address_waits_until_its_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_seconds=900, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("203.0.113.7") == 0
        throttle.failed("203.0.113.7")
        clock.now += 60
    # Three failures at 1000, 1060, 1120; now 1180: wait until 1000 + 900.
    assert throttle.retry_after("203.0.113.7") == 721
    assert throttle.retry_after("198.51.100.1") == 0  # another address is not held back
    clock.now = 1901
    assert throttle.retry_after("203.0.113.7") == 0  # the oldest failure has left the window


def test_zero_means_no_limit_and_an_unknown_address_is_not_counted() -> None:
    off = LoginThrottle(max_failures=0, window_seconds=900)
    for _ in range(100):
        off.failed("203.0.113.7")
    assert off.retry_after("203.0.113.7") == 0
    on = LoginThrottle(max_failures=1, window_seconds=900)
    on.failed(None)
    assert on.retry_after(None) == 0
