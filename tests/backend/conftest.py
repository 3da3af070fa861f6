"""Customer-store fixtures: empty SQLite files, throwaway PostgreSQL schemas, a seeded store.

PostgreSQL tests run in a fresh schema each (named in the URL's search_path) that is dropped
afterwards, so reruns start clean. TEST_POSTGRES_URL overrides the server; the tests skip,
saying why, when it cannot be reached.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from backend.store import tracking_numbers
from backend.store.db import get_engine, upgrade_database
from backend.store.models import (
    Customer,
    CustomerKind,
    EventCode,
    ServiceLevel,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A Wednesday, midday in London (BST): deliveries are under way, yesterday's are done.
STORE_ANCHOR = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)


def _quiet(_line: str) -> None:
    pass


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """An SQLite file that does not exist yet, in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'var' / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    schema = f"test_store_{uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}")
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    yield url_text
    get_engine(url_text).dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty store on each database the product supports."""
    url = request.getfixturevalue(f"{request.param}_url")
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small seeded SQLite store shared by read-only tests."""
    from backend.store.seed import seed_database

    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'store.db'}"
    seed_database(url, customers=80, shipments=3000, seed=7, anchor=STORE_ANCHOR, echo=_quiet)
    return url


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    with Session(get_engine(store_url)) as session:
        yield session


ShipmentFactory = Callable[..., Shipment]


@pytest.fixture
def make_shipment(session: Session) -> ShipmentFactory:
    """Saves a customer and a shipment with the given fields; defaults describe a parcel
    collected yesterday morning in Leeds, on its way to Manchester."""
    counter = iter(range(1, 10**6))

    def make(**fields: Any) -> Shipment:
        serial = next(counter)
        customer = Customer(
            code=f"CU{serial:05d}",
            name="Calder Valley Crafts Ltd",
            kind=CustomerKind.business,
            contact_name="Ava Shaw",
            phone="+441134960001",
            email="ava.shaw@calder-valley-crafts.example.com",
            city="Leeds",
            region="Yorkshire and the Humber",
            account_manager="Tom Whitaker",
        )
        session.add(customer)
        session.flush()
        shipped = STORE_ANCHOR - timedelta(days=1)
        values: dict[str, Any] = {
            "tracking_number": tracking_numbers.make("LP", serial, "GB"),
            "customer_id": customer.id,
            "consignee_name": "Ruby Clarke",
            "consignee_phone": "+447700900123",
            "consignee_address": "12 Mill Lane",
            "consignee_city": "Manchester",
            "consignee_postcode": "M14 5RF",
            "origin_city": "Leeds",
            "destination_city": "Manchester",
            "destination_region": "North West",
            "service_level": ServiceLevel.standard,
            "weight_kg": 2.5,
            "declared_value": 40.0,
            "revenue": 6.1,
            "cost": 4.7,
            "shipped_at": shipped,
            "promised_date": date(2025, 6, 12),
            "status": ShipmentStatus.in_transit,
        } | fields
        shipment = Shipment(**values)
        session.add(shipment)
        session.flush()
        session.add(
            TrackingEvent(
                shipment_id=shipment.id,
                occurred_at=shipped,
                location="Leeds",
                status_code=EventCode.LC,
                description="Shipping label created by the sender.",
            )
        )
        session.flush()
        return shipment

    return make
