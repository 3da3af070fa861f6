"""The windows the chat limiter and the sign-in throttle count with."""

from __future__ import annotations

from backend.api.sliding_windows import SlidingWindows


def test_times_leave_the_window_and_the_least_recently_used_key_goes_first() -> None:
    windows = SlidingWindows(seconds=60, max_keys=2)
    windows.window("a", 0).append(0)
    windows.window("b", 10).append(10)
    assert list(windows.window("a", 59)) == [0]
    assert list(windows.window("a", 60)) == []  # a time leaves after exactly the window
    assert windows.current("c", 60) is None  # looking does not create a key
    windows.window("c", 61).append(61)  # a third key: "b", used least recently, is dropped
    assert windows.current("b", 61) is None
    assert windows.current("a", 61) is not None
