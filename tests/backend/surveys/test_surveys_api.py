"""The survey endpoints and the tracking-event endpoint, through the app (no Rasa running:
with no open chat, invitations go to the outbox)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from backend.api.main import create_app
from backend.config import Settings
from backend.store import tracking_numbers
from backend.store.models import EventCode, Shipment, ShipmentStatus, TrackingEvent
from backend.surveys import answers
from backend.surveys.answers import Parsed
from backend.surveys.invitations import invite_delivery
from backend.surveys.models import (
    InvitationStatus,
    OutboxMessage,
    OutboxStatus,
    SurveyInvitation,
    SurveyOptOut,
)
from tests.backend.api.conftest import free_port

TOKEN = "internal-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=store_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: no chat is open
        internal_api_token=TOKEN,
        public_url="https://parcelline.example",
        rasa_timeout_seconds=2,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def out_for_delivery(session: Session, make_shipment: Any) -> Shipment:
    shipment = make_shipment(status=ShipmentStatus.out_for_delivery)
    session.commit()
    return shipment


def delivered_event(number: str, at: datetime | None = None) -> dict[str, str]:
    moment = at or datetime(2025, 6, 11, 14, 5, tzinfo=UTC)
    return {
        "tracking_number": number,
        "code": "DL",
        "occurred_at": moment.isoformat(),
        "location": "Manchester",
    }


def count(session: Session, model: Any) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def test_tracking_events_need_the_internal_token(
    client: TestClient, out_for_delivery: Shipment
) -> None:
    body = delivered_event(out_for_delivery.tracking_number)
    assert client.post("/api/tracking-events", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/api/tracking-events", json=body, headers=wrong).status_code == 401


def test_a_delivery_invites_once_and_a_replay_changes_nothing(
    client: TestClient, session: Session, out_for_delivery: Shipment
) -> None:
    body = delivered_event(out_for_delivery.tracking_number)
    first = client.post("/api/tracking-events", json=body, headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.json() | {"invitation_id": None} == {
        "tracking_number": out_for_delivery.tracking_number,
        "status": "delivered",
        "event_recorded": True,
        "invitation_id": None,
        "invitation_created": True,
        "survey_sent_via": "outbox",
    }
    replay = client.post("/api/tracking-events", json=body, headers=AUTH).json()
    assert replay["event_recorded"] is False
    assert replay["invitation_created"] is False and replay["survey_sent_via"] is None
    assert replay["invitation_id"] == first.json()["invitation_id"]
    # A second "delivered" scan at another moment is not a new delivery either.
    later = delivered_event(out_for_delivery.tracking_number, datetime(2025, 6, 12, tzinfo=UTC))
    assert (
        client.post("/api/tracking-events", json=later, headers=AUTH).json()["invitation_created"]
        is False
    )
    assert count(session, SurveyInvitation) == 1
    message = session.exec(select(OutboxMessage)).one()
    assert message.status is OutboxStatus.pending and message.recipient == "+447700900123"
    events = session.exec(
        select(TrackingEvent).where(TrackingEvent.status_code == EventCode.DL)
    ).all()
    assert len(events) == 2
    shipment = session.get(Shipment, out_for_delivery.id)
    assert shipment is not None and shipment.delivered_at is not None


def test_racing_delivery_events_make_one_invitation(
    client: TestClient, session: Session, out_for_delivery: Shipment
) -> None:
    body = delivered_event(out_for_delivery.tracking_number)
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(4, timeout=20)

    def post() -> None:
        barrier.wait()
        response = client.post("/api/tracking-events", json=body, headers=AUTH)
        results.append(response.json() | {"http": response.status_code})

    threads = [threading.Thread(target=post, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r["http"] for r in results] == [200] * 4
    assert sum(r["invitation_created"] for r in results) == 1
    assert count(session, SurveyInvitation) == 1
    assert count(session, OutboxMessage) == 1


def test_other_scans_invite_nobody(
    client: TestClient, session: Session, out_for_delivery: Shipment
) -> None:
    body = delivered_event(out_for_delivery.tracking_number) | {"code": "DF"}
    result = client.post("/api/tracking-events", json=body, headers=AUTH).json()
    assert result["status"] == "delivery_failed" and result["invitation_id"] is None
    assert count(session, SurveyInvitation) == 0


def test_bad_tracking_events(client: TestClient) -> None:
    bad = client.post("/api/tracking-events", json=delivered_event("LP000000001GB"), headers=AUTH)
    assert bad.status_code == 422
    valid_unknown = tracking_numbers.make("LP", 87654321, "GB")
    unknown = client.post("/api/tracking-events", json=delivered_event(valid_unknown), headers=AUTH)
    assert unknown.status_code == 404
    naive = delivered_event(valid_unknown) | {"occurred_at": "2025-06-11T14:05:00"}
    assert client.post("/api/tracking-events", json=naive, headers=AUTH).status_code == 422


def test_a_survey_link_state_and_forged_links(
    client: TestClient, session: Session, make_shipment: Any
) -> None:
    shipment = make_shipment(status=ShipmentStatus.delivered)
    invitation = invite_delivery(session, shipment, datetime.now(UTC)).invitation
    session.commit()
    state = client.get(f"/api/surveys/{invitation.token}").json()
    assert state["state"] == "open" and state["tracking_number"] == shipment.tracking_number
    assert state["questions"][0] == "csat"
    assert client.get("/api/surveys/" + "A" * 32).status_code == 404
    assert client.get("/api/surveys/%27%20OR%201%3D1").status_code == 404
    invitation.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.add(invitation)
    session.commit()
    assert client.get(f"/api/surveys/{invitation.token}").json()["state"] == "expired"


def test_the_stop_link_opts_the_contact_out(
    client: TestClient, session: Session, make_shipment: Any
) -> None:
    shipment = make_shipment(status=ShipmentStatus.delivered)
    invitation = invite_delivery(session, shipment, datetime.now(UTC)).invitation
    session.commit()
    page = client.get(f"/api/surveys/{invitation.token}/opt-out")
    assert page.status_code == 200 and "won't send surveys" in page.text
    assert session.exec(select(SurveyOptOut.contact)).all() == ["+447700900123"]
    assert client.get("/api/surveys/" + "B" * 32 + "/opt-out").status_code == 404
    by_gateway = client.post(
        "/api/surveys/opt-outs", json={"contact": "someone@example.com"}, headers=AUTH
    )
    assert by_gateway.json() == {"opted_out": True}
    assert client.post("/api/surveys/opt-outs", json={"contact": "x@y.z"}).status_code == 401


def test_outbox_and_follow_ups_for_the_gateway_and_the_team(
    client: TestClient, session: Session, out_for_delivery: Shipment
) -> None:
    client.post(
        "/api/tracking-events",
        json=delivered_event(out_for_delivery.tracking_number),
        headers=AUTH,
    )
    pending = client.get("/api/surveys/outbox", headers=AUTH).json()
    assert len(pending) == 1 and pending[0]["channel"] == "sms"
    sent = client.patch(
        f"/api/surveys/outbox/{pending[0]['id']}", json={"status": "sent"}, headers=AUTH
    ).json()
    assert sent["status"] == "sent" and sent["sent_at"]
    assert client.get("/api/surveys/outbox", headers=AUTH).json() == []
    invitation = session.exec(select(SurveyInvitation)).one()
    answers.record_answer(session, invitation, "condition", Parsed("value", 0), datetime.now(UTC))
    session.commit()
    tasks = client.get("/api/surveys/follow-ups", headers=AUTH).json()
    assert [t["reasons"] for t in tasks] == ["damaged"]
    assert client.get("/api/surveys/follow-ups").status_code == 401


def test_the_sampling_endpoint(client: TestClient, session: Session, make_shipment: Any) -> None:
    for _ in range(3):
        make_shipment(shipped_at=datetime.now(UTC) - timedelta(days=3))
    session.commit()
    url = "/api/surveys/relationship-samples"
    assert client.post(url, params={"period": "2025-06"}).status_code == 401
    made = client.post(url, params={"period": "2025-06", "seed": 1}, headers=AUTH).json()
    assert made["created"] and len(made["samples"]) == 3
    again = client.post(url, params={"period": "2025-06"}, headers=AUTH).json()
    assert not again["created"] and len(again["samples"]) == 3
    listed = client.get(url, params={"period": "2025-06"}, headers=AUTH).json()
    assert {s["customer_id"] for s in listed} == {s["customer_id"] for s in made["samples"]}
    assert all(s["reasons"] for s in listed)
    invitations = session.exec(select(SurveyInvitation)).all()
    assert {i.status for i in invitations} == {InvitationStatus.pending}
    for bad in ("2025-13", "0000-01", "9999-12"):  # year 0 and 9999 broke the month's end
        assert client.post(url, params={"period": bad}, headers=AUTH).status_code == 422
