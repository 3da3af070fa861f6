"""Each satisfaction-index definition on shipments whose answers are known by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.crm import satisfaction
from backend.crm.satisfaction import compute_index, periods
from backend.store.models import ServiceLevel, ShipmentStatus
from tests.backend.crm.conftest import AS_OF, Store, day

MAY = datetime(2025, 5, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
JULY = datetime(2025, 7, 1, tzinfo=UTC)


def values(rows, period: str, group: str = "all") -> dict[str, tuple[float, float, float | None]]:
    return {
        r.indicator: (r.numerator, r.denominator, r.value)
        for r in rows
        if r.period == period and r.group == group
    }


def may_shipments(store: Store) -> None:
    """Five shipments on 5 May; all promised for 7 May, before the as-of date (11 June)."""
    customer = store.customer()
    shipped = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)
    promised = day("2025-05-07")
    common = {"shipped_at": shipped, "promised_date": promised}
    delivered = ShipmentStatus.delivered
    at = datetime(2025, 5, 7, 19, 30, tzinfo=UTC)  # 20:30 UK time, the latest drop
    store.ship(customer, 0, **common, status=delivered, delivered_at=at)  # on time
    store.ship(customer, 0, **common, status=delivered, delivered_at=at + timedelta(days=1))
    store.ship(customer, 0, **common, status=ShipmentStatus.lost, delivered_at=None)
    store.ship(
        customer, 0, **common, status=ShipmentStatus.in_transit, delivered_at=None, damaged=True
    )
    store.ship(
        customer,
        0,
        shipped_at=shipped,
        promised_date=day("2025-06-20"),  # not due yet (freight held at the depot)
        status=ShipmentStatus.in_transit,
        delivered_at=None,
        service_level=ServiceLevel.freight,
        destination_region="Scotland",
    )


def test_each_definition_by_hand(store: Store) -> None:
    may_shipments(store)
    with store.engine.connect() as connection:
        rows = compute_index(connection, grain="month", since=MAY, until=JULY, as_of=AS_OF)
    may = values(rows, "2025-05")
    assert may["on_time_rate"] == (1, 4, 0.25)  # 4 due: on time, late, lost, still travelling
    assert may["completion_rate"] == (2, 3, pytest.approx(2 / 3))  # ended: 2 delivered + lost
    assert may["damage_rate"] == (1, 5, 0.2)
    assert may["loss_rate"] == (1, 5, 0.2)


def test_empty_periods_are_listed_with_no_value(store: Store) -> None:
    may_shipments(store)
    with store.engine.connect() as connection:
        rows = compute_index(connection, grain="month", since=APRIL, until=JULY, as_of=AS_OF)
    assert [r.period for r in rows if r.indicator == "loss_rate"] == [
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    for month in ("2025-04", "2025-06"):
        assert set(values(rows, month).values()) == {(0, 0, None)}


def test_an_empty_store_gives_every_period_empty(store: Store) -> None:
    with store.engine.connect() as connection:
        rows = compute_index(connection, grain="week", since=MAY, until=JULY, as_of=AS_OF)
    assert len(rows) == len(periods(MAY, JULY, "week")) * len(satisfaction.INDICATORS)
    assert all(r.value is None for r in rows)


def test_split_by_service_level_and_region(store: Store) -> None:
    may_shipments(store)
    with store.engine.connect() as connection:
        by_service = compute_index(
            connection, grain="month", by="service_level", since=MAY, until=JULY, as_of=AS_OF
        )
        by_region = compute_index(
            connection, grain="month", by="region", since=MAY, until=JULY, as_of=AS_OF
        )
    assert values(by_service, "2025-05", "standard")["damage_rate"] == (1, 4, 0.25)
    assert values(by_service, "2025-05", "freight")["on_time_rate"] == (0, 0, None)
    assert values(by_service, "2025-05", "freight")["loss_rate"] == (0, 1, 0)
    assert {r.group for r in by_region} == {"North West", "Scotland"}


def test_weeks_start_on_monday_in_utc(store: Store) -> None:
    customer = store.customer()
    sunday_night = datetime(2025, 6, 8, 23, 30, tzinfo=UTC)
    monday = datetime(2025, 6, 9, 0, 30, tzinfo=UTC)
    store.ship(customer, 0, shipped_at=sunday_night)
    store.ship(customer, 0, shipped_at=monday, damaged=True)
    since = datetime(2025, 6, 2, tzinfo=UTC)
    with store.engine.connect() as connection:
        rows = compute_index(
            connection, grain="week", since=since, until=AS_OF, as_of=AS_OF, keys=["damage_rate"]
        )
    assert [(r.period, r.numerator, r.denominator) for r in rows] == [
        ("2025-06-02", 0, 1),
        ("2025-06-09", 1, 1),
    ]


def test_period_labels() -> None:
    start = datetime(2024, 11, 20, tzinfo=UTC)
    assert periods(start, datetime(2025, 2, 1, tzinfo=UTC), "month") == [
        "2024-11",
        "2024-12",
        "2025-01",
    ]
    assert periods(start, datetime(2024, 12, 2, tzinfo=UTC), "week") == [
        "2024-11-18",
        "2024-11-25",
    ]


def test_definitions_carry_targets() -> None:
    found = {d["key"]: d for d in satisfaction.definitions()}
    assert set(found) == {
        "on_time_rate",
        "completion_rate",
        "damage_rate",
        "loss_rate",
        "complaint_rate",
        "resolution_hours",
        "sla_compliance",
        "csat",
        "nps",
        "response_rate",
    }
    assert found["on_time_rate"]["target"] == 0.95
    assert found["complaint_rate"]["unit"] == "per_1000" and found["nps"]["unit"] == "score"
    assert all(d["target"] is not None for d in found.values())
    assert all(d["definition"] for d in found.values())


def test_default_ranges_start_with_a_whole_period() -> None:
    assert satisfaction.default_since(AS_OF, "month") == datetime(2024, 6, 1, tzinfo=UTC)
    assert satisfaction.default_since(AS_OF, "week") == datetime(2024, 12, 9, tzinfo=UTC)
    assert satisfaction.default_since(AS_OF, "week").weekday() == 0
