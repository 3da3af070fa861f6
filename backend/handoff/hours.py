"""Opening hours of the agents' desk, e.g. "Mon-Fri 08:00-20:00; Sat 09:00-14:00", in the
carrier's time zone; "always" for a desk that never closes."""

from __future__ import annotations

from datetime import datetime, time
from functools import cache
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Window = tuple[int, time, time]  # weekday (0 = Monday), opens, closes


def _clock(text: str) -> time:
    hours, minutes = text.strip().split(":")
    if int(hours) == 24 and int(minutes) == 0:
        return time.max
    return time(int(hours), int(minutes))


@cache
def parse_hours(spec: str) -> tuple[Window, ...] | None:
    """The windows of `spec`; None means always open. ValueError on a malformed spec."""
    if spec.strip().lower() == "always":
        return None
    windows: list[Window] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        days, _, span = part.partition(" ")
        first, _, last = days.lower().partition("-")
        start, end = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        opens, _, closes = span.partition("-")
        for day in range(start, end + 1):
            windows.append((day, _clock(opens), _clock(closes)))
    return tuple(windows)


def is_open(now: datetime, spec: str, zone: str) -> bool:
    windows = parse_hours(spec)
    if windows is None:
        return True
    local = now.astimezone(ZoneInfo(zone))
    clock = local.time().replace(tzinfo=None)
    return any(day == local.weekday() and opens <= clock < closes for day, opens, closes in windows)
