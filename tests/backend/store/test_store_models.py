"""Models, column types and engines against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from backend.store.db import get_engine, session_scope
from backend.store.models import (
    AddressChangeRequest,
    AddressChangeStatus,
    Channel,
    Customer,
    EventCode,
    ServiceLevel,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)


def test_datetimes_come_back_aware_utc(session: Session, make_shipment) -> None:
    # 09:30 at UTC+05:30 is 04:00 UTC.
    shipped = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    shipment_id = make_shipment(shipped_at=shipped).id
    session.commit()
    session.expunge_all()
    loaded = session.get(Shipment, shipment_id)
    assert loaded is not None
    assert loaded.shipped_at == datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
    assert loaded.shipped_at.tzinfo is UTC
    assert loaded.updated_at.tzinfo is UTC
    # The stored value sorts and compares as UTC in SQL too.
    later = session.exec(
        select(Shipment).where(Shipment.shipped_at > datetime(2025, 3, 1, 3, 59, tzinfo=UTC))
    ).all()
    assert [s.id for s in later] == [shipment_id]


def test_naive_datetimes_are_refused(session: Session, make_shipment) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        make_shipment(shipped_at=datetime(2025, 3, 1, 9, 30))


def test_enums_are_stored_as_text_and_read_as_members(
    session: Session, make_shipment, store_url: str
) -> None:
    shipment_id = make_shipment(service_level=ServiceLevel.same_day, status="out_for_delivery").id
    session.commit()
    session.expunge_all()
    loaded = session.get(Shipment, shipment_id)
    assert loaded is not None
    assert loaded.status is ShipmentStatus.out_for_delivery
    assert loaded.service_level is ServiceLevel.same_day
    with get_engine(store_url).connect() as connection:
        raw = connection.execute(
            text("SELECT status, service_level FROM shipments WHERE id = :id"), {"id": shipment_id}
        ).one()
    assert tuple(raw) == ("out_for_delivery", "same_day")


def test_unknown_enum_values_are_refused(session: Session, make_shipment) -> None:
    with pytest.raises(StatementError, match="'teleported' is not a valid ShipmentStatus"):
        make_shipment(status="teleported")


def test_tracking_numbers_are_unique(session: Session, make_shipment) -> None:
    make_shipment(tracking_number="LP123456785GB")
    with pytest.raises(IntegrityError):
        make_shipment(tracking_number="LP123456785GB")


def test_foreign_keys_are_enforced(session: Session) -> None:
    # SQLite only enforces them when each connection asks; the engine does.
    session.add(
        TrackingEvent(
            shipment_id=999_999,
            occurred_at=datetime.now(UTC),
            location="Leeds",
            status_code=EventCode.LC,
            description="Shipping label created by the sender.",
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_deleting_a_shipment_deletes_its_events_and_requests(
    session: Session, make_shipment
) -> None:
    shipment = make_shipment()
    session.add(
        AddressChangeRequest(
            shipment_id=shipment.id, new_address="3 Elm Grove, Leeds LS6 2QT", conversation_id="c1"
        )
    )
    session.commit()
    session.connection().execute(text("DELETE FROM shipments WHERE id = :id"), {"id": shipment.id})
    session.commit()
    assert session.exec(select(TrackingEvent)).all() == []
    assert session.exec(select(AddressChangeRequest)).all() == []


def test_address_change_request_defaults(session: Session, make_shipment) -> None:
    before = datetime.now(UTC)
    request = AddressChangeRequest(
        shipment_id=make_shipment().id, new_address="3 Elm Grove", conversation_id="c1"
    )
    session.add(request)
    session.commit()
    session.refresh(request)
    assert request.status is AddressChangeStatus.pending
    assert request.channel is Channel.chat
    assert before <= request.requested_at <= datetime.now(UTC)


def test_customer_codes_are_unique(session: Session, make_shipment) -> None:
    make_shipment()
    existing = session.exec(select(Customer)).one()
    twin = Customer.model_validate(existing.model_dump(exclude={"id"}))
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()


def test_session_scope_commits_or_rolls_back(store_url: str) -> None:
    with session_scope(store_url) as session:
        session.add(_customer("CU90001"))
    with pytest.raises(RuntimeError), session_scope(store_url) as session:
        session.add(_customer("CU90002"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(store_url) as session:
        codes = session.exec(select(Customer.code)).all()
    assert codes == ["CU90001"]


def test_engines_are_cached_per_url_and_make_the_sqlite_folder(sqlite_url: str) -> None:
    folder = Path(sqlite_url.removeprefix("sqlite:///")).parent
    assert not folder.exists()
    engine = get_engine(sqlite_url)
    assert folder.is_dir()
    assert get_engine(sqlite_url) is engine
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_building_an_engine_does_not_connect() -> None:
    # Nothing listens on port 1: building the engine must still succeed.
    engine = get_engine("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    assert engine.dialect.name == "postgresql"
    assert engine.pool.checkedout() == 0


def _customer(code: str) -> Customer:
    return Customer(
        code=code,
        name="Ava Shaw",
        kind="private",
        contact_name="Ava Shaw",
        phone="+447700900001",
        email="ava.shaw7@example.net",
        city="Leeds",
        region="Yorkshire and the Humber",
        account_manager="Fiona MacLeod",
    )
