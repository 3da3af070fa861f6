"""The demo data: deterministic, idempotent, and shaped like a real carrier's year."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from backend.store.db import get_engine
from backend.store.models import (
    AddressChangeRequest,
    Customer,
    CustomerKind,
    EventCode,
    SeedInfo,
    ServiceLevel,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from backend.store.seed import (
    EXAMPLE_KINDS,
    default_anchor,
    example_numbers,
    generate,
    main,
    seed_database,
)
from backend.store.tracking_numbers import validate
from backend.tracking import status_from_events, uk_date

S = ShipmentStatus
ANCHOR = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)  # Wednesday, midday in London
SMALL = {"customers": 30, "shipments": 600, "seed": 3, "anchor": ANCHOR}
# Ofcom's numbers for drama: 07700 900xxx, 0113 496 0xxx and friends, 01632 960xxx.
DRAMA_PHONE = re.compile(
    r"\+44(7700900\d{3}|(113|114|115|116|117|118|121|131|141|151|161)4960\d{3}|1914980\d{3}"
    r"|2079460\d{3}|2920180\d{3}|2896496\d{3}|1632960\d{3})"
)
PREFIX = {
    ServiceLevel.standard: "LP",
    ServiceLevel.express: "EE",
    ServiceLevel.same_day: "EE",
    ServiceLevel.freight: "CP",
}


def quiet(_line: str) -> None:
    pass


def numbers(url: str) -> list[str]:
    with get_engine(url).connect() as connection:
        return list(
            connection.execute(select(Shipment.tracking_number).order_by(Shipment.id)).scalars()
        )


def count(url: str, model: Any) -> int:
    with get_engine(url).connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- small stores


def test_generation_is_deterministic() -> None:
    first, second = generate(30, 600, 3, ANCHOR), generate(30, 600, 3, ANCHOR)
    assert first.shipments == second.shipments
    assert first.customers == second.customers
    other = generate(30, 600, 4, ANCHOR)
    assert {r["tracking_number"] for r in other.shipments}.isdisjoint(
        {r["tracking_number"] for r in first.shipments}
    )


def test_same_seed_same_data_on_sqlite_and_postgres(
    sqlite_url: str, postgres_url: str, tmp_path: Any
) -> None:
    twin = f"sqlite:///{tmp_path / 'twin.db'}"
    for url in (sqlite_url, twin, postgres_url):
        seed_database(url, echo=quiet, **SMALL)
    assert len(numbers(sqlite_url)) == 600
    assert numbers(sqlite_url) == numbers(twin) == numbers(postgres_url)
    query = text(
        "SELECT tracking_number, status, promised_date, revenue FROM shipments ORDER BY id"
    )
    rows = {}
    for url in (sqlite_url, postgres_url):
        with get_engine(url).connect() as connection:
            rows[url] = [tuple(map(str, r)) for r in connection.execute(query)]
    assert rows[sqlite_url] == rows[postgres_url]
    assert count(sqlite_url, TrackingEvent) == count(postgres_url, TrackingEvent)


def test_seeding_twice_does_nothing_and_reset_reseeds(sqlite_url: str) -> None:
    said: list[str] = []
    first = seed_database(sqlite_url, echo=said.append, **SMALL)
    assert first.seeded and (first.customers, first.shipments) == (30, 600)
    assert first.events == count(sqlite_url, TrackingEvent) > 600 * 4
    assert any(line.startswith("  customers ") and " 30 " in line for line in said)
    assert any(line.startswith("  events ") for line in said)
    assert any(line.startswith("Tracking numbers to try") for line in said)
    seeded_numbers = numbers(sqlite_url)

    said.clear()
    again = seed_database(sqlite_url, echo=said.append, **SMALL)
    assert not again.seeded
    assert said[0] == again.message and "Already seeded (seed 3" in again.message
    # The numbers to try are printed again, for whoever lost the first table.
    assert said[1].startswith("Tracking numbers to try") and len(said) == 2
    assert numbers(sqlite_url) == seeded_numbers
    assert count(sqlite_url, SeedInfo) == 1

    with Session(get_engine(sqlite_url)) as session:
        shipment = session.exec(select(Shipment)).scalars().first()
        session.add(
            AddressChangeRequest(shipment_id=shipment.id, new_address="x", conversation_id="c")
        )
        session.commit()
    reset = seed_database(sqlite_url, reset=True, echo=quiet, **SMALL)
    assert reset.seeded
    assert numbers(sqlite_url) == seeded_numbers
    assert count(sqlite_url, AddressChangeRequest) == 0
    assert count(sqlite_url, SeedInfo) == 1


def test_reset_on_postgres_restarts_ids(postgres_url: str) -> None:
    seed_database(postgres_url, echo=quiet, **SMALL)
    seed_database(postgres_url, reset=True, echo=quiet, **SMALL)
    with get_engine(postgres_url).connect() as connection:
        low, high = connection.execute(select(func.min(Shipment.id), func.max(Shipment.id))).one()
    assert (low, high) == (1, 600)


def test_store_with_foreign_data_is_left_alone(sqlite_url: str) -> None:
    seed_database(sqlite_url, echo=quiet, **SMALL)
    with get_engine(sqlite_url).begin() as connection:
        connection.execute(text("DELETE FROM seed_info"))
    result = seed_database(sqlite_url, echo=quiet, **SMALL)
    assert not result.seeded and "did not create" in result.message
    assert count(sqlite_url, Customer) == 30


def test_command_line(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database-url", sqlite_url, "--customers", "20", "--shipments", "300"]
    assert main([*args, "--anchor", "2025-06-11"]) == 0
    out = capsys.readouterr().out
    assert "(seed 42, anchor 2025-06-11 11:00 UTC)" in out  # a date means noon in London
    assert re.search(r"  shipments +300 rows", out)
    assert main(args) == 0
    assert "Already seeded" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*args, "--shipments", "0"])


@pytest.mark.parametrize(
    ("now", "anchor"),
    [
        # Wednesday 14:00 in London (BST): noon the same day.
        (datetime(2025, 6, 11, 13, 0, tzinfo=UTC), datetime(2025, 6, 11, 11, 0, tzinfo=UTC)),
        # Wednesday 09:00 in London: noon the day before.
        (datetime(2025, 6, 11, 8, 0, tzinfo=UTC), datetime(2025, 6, 10, 11, 0, tzinfo=UTC)),
        # Saturday afternoon and Monday early morning: Friday noon.
        (datetime(2025, 6, 14, 15, 0, tzinfo=UTC), datetime(2025, 6, 13, 11, 0, tzinfo=UTC)),
        (datetime(2025, 6, 16, 6, 0, tzinfo=UTC), datetime(2025, 6, 13, 11, 0, tzinfo=UTC)),
        # Winter: London is on UTC.
        (datetime(2024, 12, 4, 12, 0, tzinfo=UTC), datetime(2024, 12, 4, 12, 0, tzinfo=UTC)),
    ],
)
def test_default_anchor_is_the_latest_working_day_noon(now: datetime, anchor: datetime) -> None:
    assert default_anchor(now) == anchor <= now


def test_small_store_has_out_for_delivery_parcels_at_the_default_anchor() -> None:
    data = generate(40, 1000, 42, default_anchor())
    statuses = Counter(row["status"] for row in data.shipments)
    assert statuses[S.out_for_delivery] > 0 and statuses[S.in_transit] > 0


# ---------------------------------------------------------------- the full-size store


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default-size seed, once, with everything read back for the checks below."""
    url = f"sqlite:///{tmp_path_factory.mktemp('full') / 'store.db'}"
    started = time.perf_counter()
    result = seed_database(url, anchor=ANCHOR, echo=quiet)
    elapsed = time.perf_counter() - started
    engine = get_engine(url)
    with Session(engine) as session:
        customers = list(session.exec(select(Customer)).scalars())
        shipments = list(session.exec(select(Shipment)).scalars())
        examples = example_numbers(session)
    events: dict[int, list[tuple[datetime, EventCode]]] = defaultdict(list)
    with engine.connect() as connection:
        query = select(
            TrackingEvent.shipment_id, TrackingEvent.occurred_at, TrackingEvent.status_code
        ).order_by(TrackingEvent.id)
        for shipment_id, occurred_at, code in connection.execute(query):
            events[shipment_id].append((occurred_at, code))
    return {
        "result": result,
        "elapsed": elapsed,
        "customers": customers,
        "shipments": shipments,
        "events": events,
        "examples": examples,
    }


def test_full_seed_size_and_speed(full: dict[str, Any]) -> None:
    result = full["result"]
    assert result.seeded
    assert len(full["customers"]) == result.customers == 600
    assert len(full["shipments"]) == result.shipments == 24_000
    assert sum(map(len, full["events"].values())) == result.events
    assert full["elapsed"] < 60, f"seeding took {full['elapsed']:.1f} s"


def test_a_fifth_of_customers_send_about_four_fifths(full: dict[str, Any]) -> None:
    per_customer = Counter(s.customer_id for s in full["shipments"])
    volumes = sorted((per_customer[c.id] for c in full["customers"]), reverse=True)
    top = sum(volumes[: len(volumes) // 5]) / sum(volumes)
    assert 0.75 <= top <= 0.80, top
    # The biggest shippers are businesses.
    biggest = {c.id for c in full["customers"] if per_customer[c.id] >= volumes[29]}
    kinds = Counter(c.kind for c in full["customers"] if c.id in biggest)
    assert kinds[CustomerKind.business] >= 0.8 * len(biggest)


def test_status_shares_are_realistic(full: dict[str, Any]) -> None:
    shipments: list[Shipment] = full["shipments"]
    total = len(shipments)
    statuses = Counter(s.status for s in shipments)
    delivered = [s for s in shipments if s.status is S.delivered]
    late = [s for s in delivered if uk_date(s.delivered_at) > s.promised_date]
    assert 0.06 <= len(late) / len(delivered) <= 0.10
    assert len(delivered) / total > 0.9
    assert 0.007 <= sum(s.damaged for s in shipments) / total <= 0.013
    assert 0.003 <= statuses[S.lost] / total <= 0.005
    assert 0.011 <= statuses[S.returned] / total <= 0.019
    for recent in (S.in_transit, S.out_for_delivery, S.delivery_failed, S.label_created):
        assert statuses[recent] > 0, recent
    today = uk_date(ANCHOR)
    late_on_the_way = [s for s in shipments if s.status is S.in_transit and s.promised_date < today]
    assert late_on_the_way


def test_shipments_span_the_year_before_the_anchor(full: dict[str, Any]) -> None:
    shipped = [s.shipped_at for s in full["shipments"]]
    assert ANCHOR - timedelta(days=366) <= min(shipped) < ANCHOR - timedelta(days=360)
    assert max(shipped) <= ANCHOR
    months = Counter((t.year, t.month) for t in shipped)
    assert len(months) >= 12
    # The November-December peak is busier than a typical summer month.
    assert months[(2024, 11)] > months[(2024, 7)]


def test_every_tracking_number_is_valid_and_matches_its_service(full: dict[str, Any]) -> None:
    seen = set()
    for shipment in full["shipments"]:
        number = shipment.tracking_number
        assert validate(number).ok, number
        assert number.startswith(PREFIX[shipment.service_level]) and number.endswith("GB")
        seen.add(number)
    assert len(seen) == len(full["shipments"])


def test_events_tell_the_same_story_as_the_status(full: dict[str, Any]) -> None:
    for shipment in full["shipments"]:
        history = full["events"][shipment.id]
        times = [t for t, _ in history]
        codes = [c for _, c in history]
        assert codes[0] is EventCode.LC and times[0] == shipment.shipped_at
        assert all(a < b for a, b in zip(times, times[1:], strict=False)), shipment.tracking_number
        assert times[-1] <= ANCHOR
        assert status_from_events(codes) is shipment.status, shipment.tracking_number
        assert shipment.updated_at == times[-1]
        delivered = [t for t, c in history if c is EventCode.DL]
        assert shipment.delivered_at == (delivered[0] if delivered else None)
        assert shipment.damaged == (EventCode.DM in codes)
        assert codes.count(EventCode.DF) <= 2


def test_promises_follow_the_service_level(full: dict[str, Any]) -> None:
    for shipment in full["shipments"]:
        sent = uk_date(shipment.shipped_at)
        promised = shipment.promised_date
        assert promised.weekday() < 5
        working_days = sum(
            (sent + timedelta(days=d)).weekday() < 5 for d in range(1, (promised - sent).days + 1)
        )
        allowed = {
            ServiceLevel.same_day: range(0, 2),
            ServiceLevel.express: range(1, 3),
            ServiceLevel.standard: range(2, 5),
            ServiceLevel.freight: range(3, 7),
        }[shipment.service_level]
        assert working_days in allowed, (shipment.service_level, sent, promised)


def test_money_is_plausible(full: dict[str, Any]) -> None:
    for shipment in full["shipments"]:
        assert 0 < shipment.cost < shipment.revenue
        assert shipment.declared_value > 0 and shipment.weight_kg > 0
    freight = [s.revenue for s in full["shipments"] if s.service_level is ServiceLevel.freight]
    standard = [s.revenue for s in full["shipments"] if s.service_level is ServiceLevel.standard]
    assert sum(freight) / len(freight) > 5 * sum(standard) / len(standard)


def test_people_look_real_and_fake(full: dict[str, Any]) -> None:
    customers: list[Customer] = full["customers"]
    kinds = Counter(c.kind for c in customers)
    assert 0.5 <= kinds[CustomerKind.business] / len(customers) <= 0.7
    assert 3 <= len({c.account_manager for c in customers}) <= 8
    assert [c.code for c in sorted(customers, key=lambda c: c.id)] == [
        f"CU{n:05d}" for n in range(1, 601)
    ]
    assert (
        len({c.name for c in customers if c.kind is CustomerKind.business})
        == kinds[CustomerKind.business]
    )
    first_shipment: dict[int, datetime] = {}
    for shipment in full["shipments"]:
        first_shipment.setdefault(shipment.customer_id, shipment.shipped_at)
        first_shipment[shipment.customer_id] = min(
            first_shipment[shipment.customer_id], shipment.shipped_at
        )
        assert DRAMA_PHONE.fullmatch(shipment.consignee_phone), shipment.consignee_phone
        assert re.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}", shipment.consignee_postcode)
    for customer in customers:
        assert DRAMA_PHONE.fullmatch(customer.phone), customer.phone
        assert customer.email.endswith(("@example.net", ".example.com"))
        if customer.id in first_shipment:
            assert customer.created_at < first_shipment[customer.id]


def test_example_numbers_are_what_they_say(full: dict[str, Any]) -> None:
    examples: dict[str, str] = full["examples"]
    assert set(examples) == set(EXAMPLE_KINDS)
    by_number = {s.tracking_number: s for s in full["shipments"]}
    today = uk_date(ANCHOR)

    def late(s: Shipment) -> bool:
        return uk_date(s.delivered_at) > s.promised_date

    checks = {
        "delivered on time": lambda s: s.status is S.delivered and not late(s),
        "delivered late": lambda s: s.status is S.delivered and late(s),
        "in transit": lambda s: s.status is S.in_transit and s.promised_date >= today,
        "in transit and late": lambda s: s.status is S.in_transit and s.promised_date < today,
        "out for delivery": lambda s: s.status is S.out_for_delivery,
        "failed attempt": lambda s: s.status is S.delivery_failed,
        "damaged": lambda s: s.damaged,
        "lost": lambda s: s.status is S.lost,
        "returned": lambda s: s.status is S.returned,
        "returning": lambda s: s.status is S.returning,
        "label created": lambda s: s.status is S.label_created,
    }
    for kind, number in examples.items():
        assert checks[kind](by_number[number]), kind
