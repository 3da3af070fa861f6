"""Complaint and survey indicators of the satisfaction index, and the complaint categories,
on tickets and answers whose right figures are worked out by hand (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.complaints.models import Category, TicketStatus
from backend.crm.satisfaction import complaint_categories, compute_index
from backend.store.models import ServiceLevel
from tests.backend.crm.conftest import AS_OF, Store

APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 1, tzinfo=UTC)
JULY = datetime(2025, 7, 1, tzinfo=UTC)
SIGNALS = [
    "complaint_rate",
    "resolution_hours",
    "sla_compliance",
    "csat",
    "nps",
    "response_rate",
]


def month(rows, period: str, group: str = "all") -> dict[str, tuple[float, float, float | None]]:
    return {
        r.indicator: (r.numerator, r.denominator, r.value)
        for r in rows
        if r.period == period and r.group == group
    }


def index(store: Store, by: str = "none") -> list:
    with store.engine.connect() as connection:
        return compute_index(
            connection, grain="month", by=by, since=APRIL, until=JULY, as_of=AS_OF, keys=SIGNALS
        )


def test_complaint_indicators_by_hand(store: Store) -> None:
    customer = store.customer()
    store.ship(customer, [40.0 + i for i in range(8)])  # 8 shipments in late April / early May
    ids = store.shipment_ids(customer)
    filed = datetime(2025, 5, 6, 9, 0, tzinfo=UTC)
    # Closed in 10 h (in time), in 60 h (48 h deadline missed), and one still open whose
    # deadline (8 May) has passed: 1 of 3 due deadlines met.
    store.complaint(customer, ids[0], filed, closed=filed + timedelta(hours=10))
    store.complaint(customer, ids[1], filed, closed=filed + timedelta(hours=60))
    store.complaint(customer, ids[2], filed)
    # Filed 10 June, 48 h deadline after the as-of moment: counted as filed, not yet as due.
    store.complaint(customer, ids[3], datetime(2025, 6, 10, 18, tzinfo=UTC))
    # Rejected after 2 h: closed, so it counts for the resolution time of May.
    store.complaint(
        None,
        None,
        datetime(2025, 5, 20, 8, tzinfo=UTC),
        closed=datetime(2025, 5, 20, 10, tzinfo=UTC),
        status=TicketStatus.rejected,
        category=Category.billing,
    )
    rows = index(store)
    may, june = month(rows, "2025-05"), month(rows, "2025-06")
    shipped_in_may = sum(1 for days in range(40, 48) if (AS_OF - timedelta(days=days)) >= MAY)
    assert may["complaint_rate"] == (
        4,
        shipped_in_may,
        pytest.approx(1000 * 4 / shipped_in_may),
    )
    assert may["resolution_hours"] == (pytest.approx(72), 3, pytest.approx(24))  # 10+60+2
    assert may["sla_compliance"] == (2, 4, 0.5)  # 10 h in time, 60 h late, open late, 2 h in time
    assert june["complaint_rate"][0] == 1 and june["complaint_rate"][2] is None  # no shipments
    assert june["sla_compliance"] == (0, 0, None)  # the June deadline has not passed
    assert month(rows, "2025-04")["resolution_hours"] == (0, 0, None)


def test_complaints_split_by_their_shipment(store: Store) -> None:
    customer = store.customer()
    store.ship(customer, 30, service_level=ServiceLevel.express)
    (parcel,) = store.shipment_ids(customer)
    filed = datetime(2025, 5, 20, 9, tzinfo=UTC)
    store.complaint(customer, parcel, filed, closed=filed + timedelta(hours=5))
    store.complaint(None, None, filed)
    rows = index(store, by="service_level")
    assert month(rows, "2025-05", "express")["complaint_rate"] == (1, 1, 1000.0)
    assert month(rows, "2025-05", "unknown")["complaint_rate"] == (1, 0, None)
    hours = month(rows, "2025-05", "express")["resolution_hours"]
    assert hours == (pytest.approx(5), 1, pytest.approx(5))


def test_survey_indicators_by_hand(store: Store) -> None:
    customer = store.customer()
    store.ship(customer, [35.0 + i for i in range(6)])
    ids = store.shipment_ids(customer)
    sent = datetime(2025, 5, 10, 12, tzinfo=UTC)
    store.survey(ids[0], sent, {"csat": 5, "nps": 10})  # promoter, satisfied
    store.survey(ids[1], sent, {"csat": 4, "nps": 9})  # promoter, satisfied
    store.survey(ids[2], sent, {"csat": 1, "nps": 2})  # detractor
    store.survey(ids[3], sent, {"csat": 3, "nps": 7})  # passive
    store.survey(ids[4], sent, {"csat": None})  # answered by skipping: a response, no score
    store.survey(ids[5], sent)  # no answer
    store.survey(ids[5], sent, {"csat": 1}, opted_out=True)  # opted out: not counted at all
    may = month(index(store), "2025-05")
    assert may["csat"] == (2, 4, 0.5)
    assert may["nps"] == (1, 4, 25.0)  # (2 promoters - 1 detractor) / 4 x 100
    assert may["response_rate"] == (5, 6, pytest.approx(5 / 6))
    assert month(index(store), "2025-04")["csat"] == (0, 0, None)  # an empty period


def test_complaint_categories(store: Store) -> None:
    customer = store.customer()
    filed = datetime(2025, 5, 6, 9, tzinfo=UTC)
    store.complaint(customer, None, filed, closed=filed + timedelta(hours=4))
    store.complaint(customer, None, filed, closed=filed + timedelta(hours=8))
    store.complaint(customer, None, filed)
    store.complaint(customer, None, filed, category=Category.damaged)
    store.complaint(customer, None, datetime(2024, 1, 1, tzinfo=UTC))  # outside the range
    with store.engine.connect() as connection:
        rows = complaint_categories(connection, since=APRIL, until=AS_OF)
    assert [r.category for r in rows][:2] == ["late_delivery", "damaged"]
    assert len(rows) == len(Category)
    late, damaged = rows[0], rows[1]
    assert (late.complaints, late.still_open, late.closed) == (3, 1, 2)
    assert late.share == 0.75 and late.resolution_hours == pytest.approx(6)
    assert (damaged.complaints, damaged.still_open, damaged.resolution_hours) == (1, 1, None)
    assert rows[-1].complaints == 0 and rows[-1].share == 0
    with store.engine.connect() as connection:
        empty = complaint_categories(connection, since=JUNE, until=AS_OF)
    assert all(r.complaints == 0 and r.share is None for r in empty)
