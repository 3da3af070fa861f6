"""Tracking summaries and what the assistant says about them, from hand-built objects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from backend.store.models import EventCode, ServiceLevel, Shipment, ShipmentStatus, TrackingEvent
from backend.tracking import (
    STATUS_TEXT,
    describe,
    next_working_day,
    status_from_events,
    summarise,
    uk_date,
)

S = ShipmentStatus
E = EventCode
# Wednesday 4 December 2024, 10:00 in London (GMT, so UTC and UK clocks agree).
NOW = datetime(2024, 12, 4, 10, 0, tzinfo=UTC)
PRIVATE = ("Ruby Clarke", "12 Mill Lane", "M14 5RF", "+447700900123", "0123")


def shipment(**fields: Any) -> Shipment:
    values: dict[str, Any] = {
        "id": 1,
        "tracking_number": "LP123456785GB",
        "customer_id": 1,
        "consignee_name": "Ruby Clarke",
        "consignee_phone": "+447700900123",
        "consignee_address": "12 Mill Lane",
        "consignee_city": "Manchester",
        "consignee_postcode": "M14 5RF",
        "origin_city": "Leeds",
        "destination_city": "Manchester",
        "destination_region": "North West",
        "service_level": ServiceLevel.standard,
        "weight_kg": 2.0,
        "declared_value": 30.0,
        "revenue": 5.3,
        "cost": 4.1,
        "shipped_at": datetime(2024, 12, 2, 9, 0, tzinfo=UTC),
        "promised_date": date(2024, 12, 5),
        "status": S.in_transit,
    }
    return Shipment(**(values | fields))


def event(code: EventCode, at: datetime, place: str) -> TrackingEvent:
    return TrackingEvent(
        shipment_id=1, occurred_at=at, location=place, status_code=code, description=""
    )


LABEL = event(E.LC, datetime(2024, 12, 2, 9, 0, tzinfo=UTC), "Leeds")
AT_DEPOT = event(E.AR, datetime(2024, 12, 3, 14, 5, tzinfo=UTC), "Manchester depot")


def test_in_transit_on_time() -> None:
    summary = summarise(shipment(), [AT_DEPOT, LABEL], NOW)  # order of events does not matter
    assert summary.status is S.in_transit and summary.status_text == "on its way"
    assert (summary.last_scan_place, summary.last_scan_time) == (
        "Manchester depot",
        AT_DEPOT.occurred_at,
    )
    assert summary.eta == date(2024, 12, 5)
    assert (summary.days_late, summary.is_late, summary.delivered_at) == (0, False, None)
    assert describe(summary, NOW) == (
        "Your parcel LP123456785GB is on its way; last scanned at Manchester depot, "
        "yesterday at 14:05. It's expected tomorrow."
    )


def test_in_transit_past_its_promise_is_late_and_re_estimated() -> None:
    summary = summarise(shipment(promised_date=date(2024, 12, 2)), [LABEL, AT_DEPOT], NOW)
    assert (summary.days_late, summary.is_late) == (2, True)
    assert summary.eta == date(2024, 12, 5)  # the next working day after today
    text = describe(summary, NOW)
    assert "I'm sorry, it's running 2 days late." in text
    assert "It's now expected tomorrow." in text


def test_re_estimate_skips_the_weekend() -> None:
    friday = datetime(2024, 12, 6, 10, 0, tzinfo=UTC)
    summary = summarise(shipment(promised_date=date(2024, 12, 5)), [AT_DEPOT], friday)
    assert summary.eta == date(2024, 12, 9)
    assert (summary.days_late, summary.is_late) == (1, True)
    text = describe(summary, friday)
    assert "running 1 day late" in text and "expected on Monday 9 December" in text
    assert "on Tuesday at 14:05" in text  # three days ago: the weekday, no date


def test_eta_far_ahead_names_the_day() -> None:
    summary = summarise(shipment(promised_date=date(2024, 12, 10)), [AT_DEPOT], NOW)
    assert summary.eta == date(2024, 12, 10)
    assert "expected on Tuesday 10 December." in describe(summary, NOW)


def test_out_for_delivery() -> None:
    out = event(E.OD, datetime(2024, 12, 4, 7, 40, tzinfo=UTC), "Manchester depot")
    summary = summarise(
        shipment(status=S.out_for_delivery, promised_date=date(2024, 12, 4)), [AT_DEPOT, out], NOW
    )
    assert summary.eta == date(2024, 12, 4) and not summary.is_late
    assert summary.status_text == "out for delivery today"
    assert describe(summary, NOW) == (
        "Your parcel LP123456785GB is out for delivery today; it left Manchester depot, "
        "today at 07:40."
    )


def test_failed_attempt_is_retried_next_working_day() -> None:
    failed = event(E.DF, datetime(2024, 12, 4, 9, 15, tzinfo=UTC), "Manchester")
    summary = summarise(
        shipment(status=S.delivery_failed, promised_date=date(2024, 12, 4)), [failed], NOW
    )
    assert summary.eta == date(2024, 12, 5) and not summary.is_late
    assert describe(summary, NOW) == (
        "We tried to deliver your parcel LP123456785GB but couldn't (Manchester, today at "
        "09:15). We'll try again tomorrow."
    )


def test_delivered_on_time() -> None:
    at = datetime(2024, 12, 3, 11, 32, tzinfo=UTC)
    summary = summarise(
        shipment(status=S.delivered, delivered_at=at, promised_date=date(2024, 12, 3)),
        [event(E.DL, at, "Manchester")],
        NOW,
    )
    assert (summary.delivered_at, summary.eta, summary.days_late) == (at, None, 0)
    assert describe(summary, NOW) == "Your parcel LP123456785GB was delivered yesterday at 11:32."


def test_delivered_late_counts_uk_days() -> None:
    # 23:30 UTC on 1 July is 00:30 on 2 July in London: a day after the promise.
    at = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    now = datetime(2024, 7, 10, 9, 0, tzinfo=UTC)
    summary = summarise(
        shipment(status=S.delivered, delivered_at=at, promised_date=date(2024, 7, 1)),
        [event(E.DL, at, "Manchester")],
        now,
    )
    assert (summary.days_late, summary.is_late) == (1, True)
    assert describe(summary, now) == (
        "Your parcel LP123456785GB was delivered on 2 July at 00:30. I'm sorry it arrived "
        "1 day late."
    )


def test_summer_times_are_read_in_london() -> None:
    now = datetime(2024, 7, 3, 9, 0, tzinfo=UTC)
    scan = event(E.AR, datetime(2024, 7, 2, 13, 5, tzinfo=UTC), "Birmingham hub")
    summary = summarise(shipment(promised_date=date(2024, 7, 4)), [scan], now)
    assert "Birmingham hub, yesterday at 14:05" in describe(summary, now)


@pytest.mark.parametrize(
    ("status", "code", "opening"),
    [
        (S.lost, E.LS, "I'm very sorry: your parcel LP123456785GB has been declared lost"),
        (S.returned, E.RS, "Your parcel LP123456785GB has been returned to the sender"),
        (S.returning, E.AR, "Your parcel LP123456785GB is on its way back to the sender"),
    ],
)
def test_parcels_not_coming_have_no_eta_and_are_not_late(
    status: ShipmentStatus, code: EventCode, opening: str
) -> None:
    scan = event(code, datetime(2024, 11, 20, 10, 0, tzinfo=UTC), "Birmingham hub")
    summary = summarise(shipment(status=status, promised_date=date(2024, 11, 1)), [scan], NOW)
    assert (summary.eta, summary.days_late, summary.is_late) == (None, 0, False)
    text = describe(summary, NOW)
    assert text.startswith(opening)
    assert "Birmingham hub, on 20 November at 10:00" in text
    assert "expected" not in text and "late" not in text


def test_label_created_waits_for_collection() -> None:
    summary = summarise(shipment(status=S.label_created), [LABEL], NOW)
    assert summary.eta == date(2024, 12, 5)
    assert describe(summary, NOW) == (
        "Your parcel LP123456785GB has a label, but we haven't collected it from the sender "
        "yet. It's expected tomorrow."
    )


def test_damage_is_mentioned_with_an_apology() -> None:
    at = datetime(2024, 12, 3, 11, 32, tzinfo=UTC)
    summary = summarise(
        shipment(
            status=S.delivered, delivered_at=at, damaged=True, promised_date=date(2024, 12, 3)
        ),
        [event(E.DL, at, "Manchester")],
        NOW,
    )
    assert summary.damaged
    assert describe(summary, NOW).endswith("I'm sorry, damage to it was reported on the way.")


def test_no_scans_yet() -> None:
    summary = summarise(shipment(status=S.label_created), [], NOW)
    assert (summary.last_scan_place, summary.last_scan_time) == (None, None)
    assert "last scanned" not in describe(summary, NOW)


def test_dates_in_another_year_carry_the_year() -> None:
    summary = summarise(
        shipment(status=S.returned),
        [event(E.RS, datetime(2023, 12, 20, 15, 0, tzinfo=UTC), "Leeds")],
        NOW,
    )
    assert "Leeds, on 20 December 2023 at 15:00" in describe(summary, NOW)


@pytest.mark.parametrize("status", list(ShipmentStatus))
def test_every_status_has_words_and_keeps_the_consignee_private(status: ShipmentStatus) -> None:
    delivered_at = datetime(2024, 12, 3, 11, 32, tzinfo=UTC) if status is S.delivered else None
    summary = summarise(
        shipment(status=status, delivered_at=delivered_at, damaged=True), [LABEL, AT_DEPOT], NOW
    )
    assert summary.status_text == STATUS_TEXT[status]
    text = describe(summary, NOW)
    assert "LP123456785GB" in text
    for private in PRIVATE:
        assert private not in text


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        ([], None),
        ([E.LC], S.label_created),
        ([E.LC, E.PU, E.AR, E.DP], S.in_transit),
        ([E.LC, E.PU, E.AR, E.DM], S.in_transit),  # damage alone changes nothing
        ([E.LC, E.PU, E.AR, E.OD], S.out_for_delivery),
        ([E.LC, E.PU, E.OD, E.DF], S.delivery_failed),
        ([E.LC, E.PU, E.OD, E.DF, E.OD, E.DL], S.delivered),
        ([E.OD, E.DF, E.OD, E.DF, E.RT, E.AR, E.DP, E.AR], S.returning),
        ([E.RT, E.AR, E.RS], S.returned),
        ([E.LC, E.PU, E.AR, E.LS], S.lost),
    ],
)
def test_status_from_events(codes: list[EventCode], status: ShipmentStatus | None) -> None:
    assert status_from_events(codes) == status


def test_working_days_and_uk_dates() -> None:
    assert next_working_day(date(2024, 12, 6)) == date(2024, 12, 9)  # Friday → Monday
    assert next_working_day(date(2024, 12, 7)) == date(2024, 12, 9)  # Saturday → Monday
    assert next_working_day(date(2024, 12, 4)) == date(2024, 12, 5)
    assert uk_date(datetime(2024, 7, 1, 23, 30, tzinfo=UTC)) == date(2024, 7, 2)
    assert uk_date(datetime(2024, 12, 1, 23, 30, tzinfo=UTC)) == date(2024, 12, 1)


def test_plain_strings_work_like_enum_members() -> None:
    # Table models skip validation, so hand-built objects may carry plain strings.
    at = datetime(2024, 12, 3, 11, 32, tzinfo=UTC)
    summary = summarise(
        shipment(status="delivered", delivered_at=at, promised_date=date(2024, 12, 2)), [], NOW
    )
    assert summary.status is S.delivered and summary.days_late == 1
    assert status_from_events(["LC", "PU", "DM"]) is S.in_transit
