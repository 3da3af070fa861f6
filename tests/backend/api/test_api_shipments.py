"""GET /api/shipments/{tracking_number} against a small seeded SQLite store."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.store.db import session_scope
from backend.store.models import Shipment, ShipmentStatus, TrackingEvent
from backend.store.tracking_numbers import make, validate
from tests.backend.api.conftest import UNREACHABLE_POSTGRES

PUBLIC_FIELDS = {
    "tracking_number",
    "status",
    "status_text",
    "summary",
    "last_scan_place",
    "last_scan_time",
    "eta",
    "delivered_at",
    "days_late",
    "events",
}


def a_shipment(database_url: str, status: ShipmentStatus | None = None) -> dict:
    with session_scope(database_url) as session:
        query = select(Shipment).order_by(Shipment.id)
        if status is not None:
            query = query.where(Shipment.status == status)
        shipment = session.exec(query).first()
        assert shipment is not None, f"the seed has no {status} shipment"
        events = session.exec(
            select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
        ).all()
        return shipment.model_dump() | {"event_count": len(events)}


def test_delivered_parcel(backend, database_url):
    expected = a_shipment(database_url, ShipmentStatus.delivered)
    response = backend.get(f"/api/shipments/{expected['tracking_number']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["tracking_number"] == expected["tracking_number"]
    assert body["status"] == "delivered"
    assert body["status_text"] == "delivered"
    assert body["delivered_at"] is not None and body["eta"] is None
    assert body["days_late"] >= 0
    assert len(body["events"]) == expected["event_count"] > 0
    assert set(body["events"][0]) == {"time", "location", "code", "description"}
    assert body["last_scan_time"] == body["events"][-1]["time"]
    assert body["last_scan_place"] == body["events"][-1]["location"]
    assert expected["tracking_number"] in body["summary"]


def test_parcel_on_its_way_has_an_eta(backend, database_url):
    expected = a_shipment(database_url, ShipmentStatus.in_transit)
    body = backend.get(f"/api/shipments/{expected['tracking_number']}").json()
    assert body["status"] == "in_transit"
    assert body["eta"] is not None and body["delivered_at"] is None


def test_no_consignee_or_commercial_data_leaks(backend, database_url):
    expected = a_shipment(database_url)
    text = backend.get(f"/api/shipments/{expected['tracking_number']}").text
    for private in ("consignee_name", "consignee_phone", "consignee_address", "consignee_postcode"):
        assert expected[private] not in text
        assert private not in text
    for commercial in ("revenue", "cost", "declared_value", "customer_id"):
        assert commercial not in text


def test_number_typed_loosely_is_found(backend, database_url):
    number = a_shipment(database_url)["tracking_number"]
    loose = f"{number[:2].lower()} {number[2:6]}-{number[6:11]} {number[11:].lower()}"
    response = backend.get(f"/api/shipments/{loose}")
    assert response.status_code == 200
    assert response.json()["tracking_number"] == number


@pytest.mark.parametrize("raw", ["LP12345", "123456785GB", "LP1234567O5GB", "LP!23456785GB"])
def test_malformed_number_is_422_with_the_problem(backend, raw):
    response = backend.get(f"/api/shipments/{raw}")
    assert response.status_code == 422
    assert response.json() == {"detail": validate(raw).problem}


def test_wrong_check_digit_is_422(backend):
    good = make("LP", 12345678)
    bad = good[:10] + str((int(good[10]) + 1) % 10) + good[11:]
    response = backend.get(f"/api/shipments/{bad}")
    assert response.status_code == 422
    assert "check digit" in response.json()["detail"]


def test_valid_unknown_number_is_404(backend, database_url):
    number = make("LP", 99_999_999)
    with session_scope(database_url) as session:
        query = select(Shipment).where(Shipment.tracking_number == number)
        assert session.exec(query).first() is None
    response = backend.get(f"/api/shipments/{number}")
    assert response.status_code == 404
    assert number in response.json()["detail"]


def test_database_down_is_503_json(start_backend):
    no_db = start_backend(database_url=UNREACHABLE_POSTGRES)
    response = no_db.get(f"/api/shipments/{make('LP', 42)}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert "database is unavailable" in response.json()["detail"]
    assert "secret" not in response.text and "Traceback" not in response.text


def test_database_without_schema_is_503_json(start_backend, tmp_path):
    empty = start_backend(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    response = empty.get(f"/api/shipments/{make('LP', 42)}")
    assert response.status_code == 503
    assert "database is unavailable" in response.json()["detail"]
