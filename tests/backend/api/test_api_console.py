"""The console's endpoints over HTTP (real backend, fake Rasa): sign-in, cookies and CSRF, and a
handoff from the shipper's chat to an agent and back. Who may call which route is checked for
every route in test_api_route_auth.py; one agent and another's work in test_api_permissions.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlmodel import Session, select

from backend.agents.models import Role
from backend.agents.service import create_agent
from backend.handoff import service
from backend.handoff.models import Handoff, HandoffStatus, Reason
from backend.store.db import get_engine
from backend.store.models import Customer, Shipment, ShipmentStatus
from backend.tone import CALM_BUTTONS, CALM_REPLY
from tests.backend.api.conftest import Backend, login_headers
from tests.knowledge.support import session_index_dir

PAGES = ["/agent", "/agent/conversations/abcdefgh12", "/agent/customers/CU00001"]


@pytest.fixture(scope="module")
def console(start_backend: Callable[..., Backend]) -> Backend:
    return start_backend(handoff_hours="always", handoff_sweep_seconds=0)


def request(backend: Backend, method: str, path: str, body: object, **kwargs: object):
    with backend.client() as client:
        return client.request(method, path, json=body, **kwargs)  # type: ignore[arg-type]


@contextmanager
def cookie_client(backend: Backend) -> Iterator[httpx.Client]:
    """A client signed in as the demo agent, holding the session cookie as a browser does."""
    settings = backend.settings
    with backend.client() as client:
        response = client.post(
            "/api/agent/login",
            json={
                "username": settings.demo_agent_username,
                "password": settings.demo_agent_password,
            },
        )
        assert response.status_code == 200, response.text
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_send_strangers_to_the_login(console: Backend, path: str) -> None:
    response = request(console, "GET", path, None)
    assert response.status_code == 303 and response.headers["location"] == "/agent/login"
    page = request(console, "GET", path, None, headers=login_headers(console, "agent"))
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy


def test_login_cookie_is_http_only_and_strict(console: Backend) -> None:
    response = request(
        console,
        "POST",
        "/api/agent/login",
        {"username": "agent", "password": console.settings.demo_agent_password},
    )
    cookie = response.headers["set-cookie"]
    assert "parcelline_agent=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http here; https sets Secure
    assert response.json()["agent"]["role"] == "agent"


def test_cookie_writes_need_the_console_origin(console: Backend) -> None:
    with cookie_client(console) as client:
        body = {"category": "other", "description": "A note taken on the phone."}
        assert client.get("/api/agent/me").status_code == 200  # reads need no origin
        assert client.post("/api/agent/complaints", json=body).status_code == 403
        evil = {"Origin": "https://evil.example"}
        assert client.post("/api/agent/complaints", json=body, headers=evil).status_code == 403
        own = {"Origin": console.url}
        assert client.post("/api/agent/complaints", json=body, headers=own).status_code == 201
        # A login posted from another site is refused before any password check.
        forged = client.post(
            "/api/agent/login", json={"username": "agent", "password": "x"}, headers=evil
        )
        assert forged.status_code == 403


def test_login_rotates_the_session_and_logout_ends_it(console: Backend) -> None:
    with cookie_client(console) as client:
        first = client.cookies["parcelline_agent"]
        settings = console.settings
        again = client.post(
            "/api/agent/login",
            json={"username": "agent", "password": settings.demo_agent_password},
            headers={"Origin": console.url},
        )
        second = client.cookies["parcelline_agent"]
        assert again.status_code == 200 and first != second
        stale = {"Authorization": f"Bearer {first}"}
        assert request(console, "GET", "/api/agent/me", None, headers=stale).status_code == 401
        out = client.post("/api/agent/logout", headers={"Origin": console.url})
        assert out.status_code == 204
        fresh = {"Authorization": f"Bearer {second}"}
        assert request(console, "GET", "/api/agent/me", None, headers=fresh).status_code == 401


def test_repeated_failures_lock_the_account(console: Backend) -> None:
    with Session(get_engine(console.settings.database_url)) as session:
        create_agent(session, "lock-me", "the-right-password", Role.agent, "Lock Me")
        session.commit()
    wrong = {"username": "lock-me", "password": "nope"}
    codes = [request(console, "POST", "/api/agent/login", wrong).status_code for _ in range(5)]
    assert codes == [401] * 5
    right = {"username": "lock-me", "password": "the-right-password"}
    locked = request(console, "POST", "/api/agent/login", right)
    assert locked.status_code == 401 and "locked" in locked.json()["detail"]


def test_a_handoff_from_the_chat_to_an_agent_and_back(console: Backend) -> None:
    assert console.rasa is not None
    conversation = uuid.uuid4().hex
    first = console.chat("hello there", conversation)
    assert first.json()["messages"][0]["text"] == "echo: hello there"
    with Session(get_engine(console.settings.database_url)) as session:
        handoff = service.request_handoff(
            session, conversation, Reason.asked, console.settings
        ).handoff
        session.commit()
        handoff_id = handoff.id
    agent = login_headers(console, "agent")
    manager = login_headers(console, "manager")
    queue = request(console, "GET", "/api/agent/handoffs", None, headers=agent).json()
    assert handoff_id in [h["id"] for h in queue["waiting"]]

    # Waiting: the bot still answers meanwhile.
    waiting = console.chat("are you there?", conversation).json()["messages"]
    assert waiting[0]["text"] == "echo: are you there?"
    taken = request(console, "POST", f"/api/agent/handoffs/{handoff_id}/take", None, headers=agent)
    assert taken.status_code == 200 and taken.json()["status"] == "held"
    again = request(
        console, "POST", f"/api/agent/handoffs/{handoff_id}/take", None, headers=manager
    )
    assert again.status_code == 409
    held = console.chat("<img src=x onerror=alert(1)>", conversation).json()["messages"]
    assert held == []
    # Held: the customer's words are kept for the agent, the bot is not asked.
    assert console.rasa.messages_from(conversation) == ["hello there", "are you there?"]

    # The holder replies (another agent may not: test_api_permissions); it reaches the poll.
    path = f"/api/agent/handoffs/{handoff_id}"
    reply = {"text": "Hi, I'm looking at your parcel now."}
    assert request(console, "POST", f"{path}/reply", reply, headers=agent).status_code == 200
    assert request(console, "POST", f"{path}/reply", {"text": ""}, headers=agent).status_code == 422
    pending = console.get(f"/api/chat/{conversation}/messages").json()["messages"]
    texts = [m["text"] for m in pending]
    assert any("has joined the chat" in t for t in texts)
    assert reply["text"] in texts

    transcript = request(
        console, "GET", f"/api/agent/conversations/{conversation}", None, headers=agent
    ).json()
    senders = [m["sender"] for m in transcript["messages"]]
    assert senders[:2] == ["customer", "bot"] and "agent" in senders
    assert "<img src=x onerror=alert(1)>" in [m["text"] for m in transcript["messages"]]
    last = transcript["messages"][-1]["id"]
    newer = request(
        console, "GET", f"/api/agent/conversations/{conversation}?after={last}", None, headers=agent
    ).json()
    assert newer["messages"] == []

    # Handed back: the bot answers again.
    back = request(console, "POST", f"{path}/hand-back", None, headers=agent)
    assert back.status_code == 200 and back.json()["status"] == "returned"
    assert console.chat("thanks", conversation).json()["messages"][0]["text"] == "echo: thanks"
    assert request(console, "POST", f"{path}/close", None, headers=agent).status_code == 409


def test_a_threat_in_any_message_queues_the_conversation(console: Backend) -> None:
    conversation = uuid.uuid4().hex
    answer = console.chat("there is a gas leak in the parcel", conversation).json()["messages"]
    assert answer[0]["text"].startswith("echo:")  # the bot still answered
    assert "ahead of the queue" in answer[-1]["text"]
    with Session(get_engine(console.settings.database_url)) as session:
        handoff = session.exec(select(Handoff).where(Handoff.conversation_id == conversation)).one()
        assert handoff.reason is Reason.threat and handoff.priority == 1
        assert handoff.status is HandoffStatus.waiting


def test_abuse_is_answered_calmly_once_with_the_offer_of_a_person(console: Backend) -> None:
    conversation = uuid.uuid4().hex
    first = console.chat("this is bloody useless, where is my parcel", conversation).json()
    texts = [m["text"] for m in first["messages"]]
    assert texts[0].startswith("echo:") and texts[-1] == CALM_REPLY
    assert first["messages"][-1]["buttons"] == CALM_BUTTONS
    again = console.chat("still useless", conversation).json()["messages"]
    assert [m["text"] for m in again] == ["echo: still useless"]  # once per conversation
    calm = console.chat("thanks for your help", uuid.uuid4().hex).json()["messages"]
    assert all(m["text"] != CALM_REPLY for m in calm)
    with Session(get_engine(console.settings.database_url)) as session:
        queued = session.exec(select(Handoff).where(Handoff.conversation_id == conversation))
        assert queued.first() is None  # abuse is calmed and offered a person, not queued


def test_search_and_the_customer_360(console: Backend) -> None:
    agent = login_headers(console, "agent")
    with Session(get_engine(console.settings.database_url)) as session:
        shipment = session.exec(select(Shipment)).first()
        assert shipment is not None
        customer = session.get(Customer, shipment.customer_id)
        assert customer is not None
        number, code, email = shipment.tracking_number, customer.code, customer.email
    for q in (number, email, customer.name[:6], customer.phone[-6:]):
        found = request(
            console, "GET", "/api/agent/customers", None, headers=agent, params={"q": q}
        )
        assert code in [c["code"] for c in found.json()], q
    view = request(console, "GET", f"/api/agent/customers/{code}", None, headers=agent).json()
    assert view["code"] == code and view["shipments"]
    assert {"tier", "value_score", "churn", "open_complaints", "survey_answers"} <= set(view)
    missing = request(console, "GET", "/api/agent/customers/CU99999", None, headers=agent)
    assert missing.status_code == 404


def test_assist_finds_the_shipment_and_suggests_the_bots_answer(
    console: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(session_index_dir()))
    agent = login_headers(console, "agent")
    with Session(get_engine(console.settings.database_url)) as session:
        number = session.exec(select(Shipment.tracking_number)).first()
    body = {"text": f"where is my parcel {number}"}
    data = request(console, "POST", "/api/agent/assist", body, headers=agent).json()
    assert data["shipments"][0]["tracking_number"] == number
    assert number in data["suggested_reply"]
    assert data["customers"] and len(data["passages"]) == 3
    assert data["nlu_available"] is False  # the fake Rasa has no NLU: the rest still works
    crushed = {"text": f"my parcel {number} arrived crushed"}
    form = request(console, "POST", "/api/agent/assist", crushed, headers=agent).json()["form"]
    assert form == {
        "kind": "complaint",
        "category": "damaged",
        "tracking_number": number,
        "description": crushed["text"],
    }


def test_the_backend_turns_untaken_handoffs_into_call_backs(
    start_backend: Callable[..., Backend],
) -> None:
    backend = start_backend(
        handoff_hours="always", handoff_pickup_minutes=0, handoff_sweep_seconds=0.2
    )
    conversation = uuid.uuid4().hex
    with Session(get_engine(backend.settings.database_url)) as session:
        handoff = service.request_handoff(
            session, conversation, Reason.asked, backend.settings
        ).handoff
        session.commit()
        reference = handoff.reference
    deadline = time.monotonic() + 10
    told: list[str] = []
    while not told and time.monotonic() < deadline:
        time.sleep(0.2)
        pending = backend.get(f"/api/chat/{conversation}/messages").json()["messages"]
        told = [m["text"] for m in pending]
    assert told and reference in told[0] and "call-back ticket" in told[0]
    with Session(get_engine(backend.settings.database_url)) as session:
        row = session.exec(select(Handoff).where(Handoff.conversation_id == conversation)).one()
        assert row.status is HandoffStatus.callback
    agent = login_headers(backend, "agent")
    transcript = request(
        backend, "GET", f"/api/agent/conversations/{conversation}", None, headers=agent
    ).json()
    assert [m["sender"] for m in transcript["messages"]] == ["system"]


def test_phone_forms_address_change_and_survey(console: Backend) -> None:
    agent = login_headers(console, "agent")
    with Session(get_engine(console.settings.database_url)) as session:
        delivered = session.exec(
            select(Shipment.tracking_number).where(Shipment.status == ShipmentStatus.delivered)
        ).first()
        moving = session.exec(
            select(Shipment.tracking_number).where(Shipment.status == ShipmentStatus.in_transit)
        ).first()
    survey = request(
        console, "POST", "/api/agent/surveys", {"tracking_number": delivered}, headers=agent
    )
    assert survey.status_code == 200, survey.text
    again = request(
        console, "POST", "/api/agent/surveys", {"tracking_number": delivered}, headers=agent
    ).json()
    assert again["sent"] is False and (
        "not sent twice" in again["note"] or "no surveys" in again["note"]
    )
    early = request(
        console, "POST", "/api/agent/surveys", {"tracking_number": moving}, headers=agent
    )
    assert early.status_code == 409
    change = {"tracking_number": moving, "new_address": "4 Dock Street, Leeds LS10 1JF"}
    moved = request(console, "POST", "/api/agent/address-changes", change, headers=agent)
    assert moved.status_code == 201, moved.text
    assert moved.json()["reference"].startswith("AC-")
    unknown = {**change, "tracking_number": "LP000000000GB"}
    gone = request(console, "POST", "/api/agent/address-changes", unknown, headers=agent)
    assert gone.status_code == 404
