"""The agents' complaint endpoints: sign-in, listing by urgency, reading, status, notes, resolve,
filing from the console."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from backend.api.main import create_app
from backend.complaints import service
from backend.complaints.models import CallbackChannel, Category
from backend.config import Settings
from backend.store.db import session_scope, upgrade_database

AUTH: dict[str, str] = {}  # the demo agent's session token, filled by the `client` fixture


@pytest.fixture
def db(sqlite_url: str) -> str:
    upgrade_database(sqlite_url)
    return sqlite_url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    settings = Settings(database_url=db, log_level="WARNING")
    with TestClient(create_app(settings)) as client:
        login = client.post(
            "/api/agent/login",
            json={
                "username": settings.demo_agent_username,
                "password": settings.demo_agent_password,
            },
        )
        assert login.status_code == 200, login.text
        client.cookies.clear()  # the tests authenticate with the bearer token only
        AUTH.update({"Authorization": f"Bearer {login.json()['token']}"})
        yield client


def file(db: str, category: Category = Category.billing, hours_ago: float = 0) -> str:
    with session_scope(db) as session:
        filed = service.file_complaint(
            session,
            category=category,
            description="I was charged twice for one parcel.",
            callback_channel=CallbackChannel.email,
            contact="ava@example.com",
            conversation_id="conv-api",
            now=service.now_utc() - timedelta(hours=hours_ago),
        )
        return filed.ticket.reference or ""


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_agents_need_the_token(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/agent/complaints", headers=headers).status_code == 401


def test_no_demo_password_means_no_demo_account(db: str) -> None:
    settings = Settings(
        database_url=db, demo_agent_password="", demo_manager_password="", log_level="WARNING"
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/agent/login", json={"username": "agent", "password": ""})
        assert response.status_code == 422
        response = client.post(
            "/api/agent/login", json={"username": "agent", "password": "parcelline-agent-demo"}
        )
        assert response.status_code == 401


def test_filing_from_the_console(client: TestClient) -> None:
    body = {"category": "billing", "description": "Charged twice on the phone order."}
    assert client.post("/api/agent/complaints", json=body).status_code == 401
    filed = client.post("/api/agent/complaints", json=body, headers=AUTH)
    assert filed.status_code == 201, filed.text
    assert filed.json()["reference"].startswith("C-")
    unknown = {**body, "tracking_number": "LP000000000GB"}
    assert client.post("/api/agent/complaints", json=unknown, headers=AUTH).status_code == 404


def test_list_by_urgency_then_read(client: TestClient, db: str) -> None:
    fresh = file(db)
    overdue = file(db, hours_ago=60)
    listed = client.get("/api/agent/complaints", headers=AUTH).json()
    assert [t["reference"] for t in listed] == [overdue, fresh]
    assert listed[0]["minutes_to_sla"] < 0 < listed[1]["minutes_to_sla"]
    detail = client.get(f"/api/agent/complaints/{fresh.lower()}", headers=AUTH).json()
    assert detail["reference"] == fresh and detail["contact"] == "ava@example.com"
    assert [e["kind"] for e in detail["history"]] == ["created"]
    assert client.get("/api/agent/complaints/C-99-00001", headers=AUTH).status_code == 404


def test_status_note_resolve(client: TestClient, db: str) -> None:
    ref = file(db)
    base = f"/api/agent/complaints/{ref}"
    taken = client.post(
        f"{base}/status", json={"status": "in_progress", "author": "Jo Agent"}, headers=AUTH
    )
    assert taken.status_code == 200 and taken.json()["owner"] == "Demo Agent"  # the signed-in agent
    noted = client.post(
        f"{base}/notes", json={"author": "Jo Agent", "note": "Refund requested"}, headers=AUTH
    )
    assert noted.json()["history"][-1]["note"] == "Refund requested"
    done = client.post(
        f"{base}/resolve",
        json={"author": "Jo Agent", "note": "Refunded", "compensation": 6.1},
        headers=AUTH,
    )
    assert done.status_code == 200
    assert done.json()["status"] == "resolved" and done.json()["compensation"] == 6.1
    again = client.post(
        f"{base}/status", json={"status": "in_progress", "author": "Jo Agent"}, headers=AUTH
    )
    assert again.status_code == 409
    assert client.get("/api/agent/complaints", headers=AUTH).json() == []
    closed = client.get("/api/agent/complaints?include_closed=true", headers=AUTH).json()
    assert [t["reference"] for t in closed] == [ref]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("resolve", {"author": "Jo", "compensation": -5}),
        ("resolve", {"author": "Jo", "compensation": 1e12}),
        ("notes", {"author": "Jo", "note": "x" * 10_000}),
        ("notes", {"author": "", "note": "hello"}),
        ("status", {"author": "Jo", "status": "teleported"}),
    ],
)
def test_bad_input_is_refused(client: TestClient, db: str, path: str, body: dict) -> None:
    ref = file(db)
    response = client.post(f"/api/agent/complaints/{ref}/{path}", json=body, headers=AUTH)
    assert response.status_code == 422
    history = client.get(f"/api/agent/complaints/{ref}", headers=AUTH).json()["history"]
    assert len(history) == 1
