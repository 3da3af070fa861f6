"""What a customer is told about a parcel: a summary of its state and a sentence or two about it.

Pure functions over a `Shipment`, its `TrackingEvent`s and the current time; no database. Dates
a customer sees (promised, expected, "yesterday") are the carrier's dates, so times are read in
its time zone (settings: Europe/London). Working days are Monday to Friday.

Lateness: a delivered parcel is late by the days between its promised date and its delivery
date; a parcel still on its way is late by the days since its promised date. Parcels that are
lost, returning or returned are not counted late: their status says what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.config import carrier_zone
from backend.store.models import EventCode, Shipment, ShipmentStatus, TrackingEvent

UK = carrier_zone()

S = ShipmentStatus
STATUS_TEXT: dict[ShipmentStatus, str] = {
    S.label_created: "label created, waiting to be collected",
    S.in_transit: "on its way",
    S.out_for_delivery: "out for delivery today",
    S.delivery_failed: "delivery attempted, not delivered",
    S.delivered: "delivered",
    S.returning: "on its way back to the sender",
    S.returned: "returned to the sender",
    S.lost: "declared lost",
}
# The status each scan leaves a parcel in; a damage report (DM) changes nothing by itself.
EVENT_STATUS: dict[EventCode, ShipmentStatus] = {
    EventCode.LC: S.label_created,
    EventCode.PU: S.in_transit,
    EventCode.AR: S.in_transit,
    EventCode.DP: S.in_transit,
    EventCode.OD: S.out_for_delivery,
    EventCode.DF: S.delivery_failed,
    EventCode.DL: S.delivered,
    EventCode.RT: S.returning,
    EventCode.RS: S.returned,
    EventCode.LS: S.lost,
}
ON_THE_WAY = frozenset({S.label_created, S.in_transit, S.out_for_delivery, S.delivery_failed})


@dataclass(frozen=True)
class TrackingSummary:
    tracking_number: str
    status: ShipmentStatus
    status_text: str
    last_scan_place: str | None
    last_scan_time: datetime | None
    eta: date | None  # only while the parcel is on its way to the consignee
    delivered_at: datetime | None
    days_late: int
    is_late: bool
    damaged: bool


def status_from_events(codes: Iterable[EventCode]) -> ShipmentStatus | None:
    """The status a chronological run of scans ends in (None before the first scan)."""
    status: ShipmentStatus | None = None
    for raw in codes:
        code = EventCode(raw)
        if code is EventCode.DM:
            continue
        following = EVENT_STATUS[code]
        # Hub scans on the way back keep the parcel "returning".
        if not (status is S.returning and following is S.in_transit):
            status = following
    return status


def uk_date(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def summarise(
    shipment: Shipment, events: Sequence[TrackingEvent], now: datetime
) -> TrackingSummary:
    last = max(events, key=lambda e: e.occurred_at) if events else None
    today = uk_date(now)
    status = ShipmentStatus(shipment.status)  # a plain string too, from hand-built objects
    eta: date | None = None
    days_late = 0
    if status is S.delivered and shipment.delivered_at is not None:
        days_late = (uk_date(shipment.delivered_at) - shipment.promised_date).days
    elif status in ON_THE_WAY:
        days_late = (today - shipment.promised_date).days
        if status is S.out_for_delivery:
            eta = today
        elif status is S.delivery_failed or shipment.promised_date < today:
            eta = next_working_day(today)  # the next round, or a re-estimate past the promise
        else:
            eta = shipment.promised_date
    days_late = max(days_late, 0)
    return TrackingSummary(
        tracking_number=shipment.tracking_number,
        status=status,
        status_text=STATUS_TEXT[status],
        last_scan_place=last.location if last else None,
        last_scan_time=last.occurred_at if last else None,
        eta=eta,
        delivered_at=shipment.delivered_at if status is S.delivered else None,
        days_late=days_late,
        is_late=days_late > 0,
        damaged=shipment.damaged,
    )


def describe(summary: TrackingSummary, now: datetime) -> str:
    """What the assistant says about the parcel: never the consignee's address or phone."""
    number = summary.tracking_number
    parcel = f"Your parcel {number}"
    scan = _scan_words(summary, now)  # "Manchester depot, yesterday at 14:05"
    last_scanned = f"; last scanned at {scan}" if scan else ""
    eta = _day_words(summary.eta, uk_date(now)) if summary.eta else "soon"
    late = f"{summary.days_late} day{'' if summary.days_late == 1 else 's'} late"
    sorry = f"I'm sorry, it's running {late}." if summary.is_late else ""
    expected = f"It's {'now ' if summary.is_late else ''}expected {eta}."
    match summary.status:
        case S.delivered:
            when = f" {_time_words(summary.delivered_at, now)}" if summary.delivered_at else ""
            sorry = f"I'm sorry it arrived {late}." if summary.is_late else ""
            parts = [f"{parcel} was delivered{when}.", sorry]
        case S.out_for_delivery:
            left = f"; it left {scan}" if scan else ""
            parts = [f"{parcel} is out for delivery today{left}.", sorry]
        case S.in_transit:
            parts = [f"{parcel} is on its way{last_scanned}.", sorry, expected]
        case S.delivery_failed:
            attempt = f" ({scan})" if scan else ""
            parts = [f"We tried to deliver your parcel {number} but couldn't{attempt}.", sorry]
            parts.append(f"We'll try again {eta}.")
        case S.label_created:
            parts = [
                f"{parcel} has a label, but we haven't collected it from the sender yet.",
                sorry,
                expected,
            ]
        case S.returning:
            parts = [f"{parcel} is on its way back to the sender{last_scanned}."]
        case S.returned:
            back = f" ({scan})" if scan else ""
            parts = [f"{parcel} has been returned to the sender{back}."]
        case S.lost:
            traced = f" after a search ({scan})" if scan else ""
            parts = [f"I'm very sorry: your parcel {number} has been declared lost{traced}."]
    if summary.damaged and summary.status is not S.lost:
        parts.append("I'm sorry, damage to it was reported on the way.")
    return " ".join(part for part in parts if part)


def _scan_words(summary: TrackingSummary, now: datetime) -> str:
    if summary.last_scan_time is None or summary.last_scan_place is None:
        return ""
    return f"{summary.last_scan_place}, {_time_words(summary.last_scan_time, now)}"


def _time_words(moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(UK), uk_date(now)
    clock = local.strftime("%H:%M")
    days_ago = (today - local.date()).days
    if days_ago == 0:
        return f"today at {clock}"
    if days_ago == 1:
        return f"yesterday at {clock}"
    if 1 < days_ago < 7:
        return f"on {local:%A} at {clock}"
    return f"on {_date_words(local.date(), today)} at {clock}"


def _day_words(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return f"on {day:%A} {_date_words(day, today)}"


def _date_words(day: date, today: date) -> str:
    words = f"{day.day} {day:%B}"
    return words if day.year == today.year else f"{words} {day.year}"
