"""One agent and another's work, over HTTP with real sessions (backend/agents/permissions.py):
held conversations, complaint tickets, sessions, sign-in throttling and cross-site requests.

Accounts: Priya and Sam (agents), the demo manager. Every allowed and refused pair is tried.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlmodel import Session

from backend.agents.models import Role
from backend.agents.service import create_agent, find_agent
from backend.handoff import service as handoffs
from backend.handoff.models import Reason
from backend.store.db import get_engine
from tests.backend.api.conftest import Backend, login_headers, sign_in

PASSWORD = "a-long-enough-password"
Headers = dict[str, str]


@pytest.fixture(scope="module")
def desk(start_backend: Callable[..., Backend]) -> Backend:
    backend = start_backend(handoff_hours="always", handoff_sweep_seconds=0)
    with Session(get_engine(backend.settings.database_url)) as session:
        for username, name in (("priya", "Priya"), ("sam", "Sam")):
            if find_agent(session, username) is None:
                create_agent(session, username, PASSWORD, Role.agent, name)
        session.commit()
    return backend


@pytest.fixture(scope="module")
def priya(desk: Backend) -> Headers:
    return sign_in(desk, "priya", PASSWORD)


@pytest.fixture(scope="module")
def sam(desk: Backend) -> Headers:
    return sign_in(desk, "sam", PASSWORD)


@pytest.fixture(scope="module")
def manager(desk: Backend) -> Headers:
    return login_headers(desk, "manager")


def send(desk: Backend, method: str, path: str, headers: Headers, body: object = None):
    with desk.client() as client:
        return client.request(method, path, json=body, headers=headers)


# --- held conversations -------------------------------------------------------------------


def held_by(desk: Backend, holder: Headers) -> tuple[int, str]:
    """A conversation handed to a person and taken by `holder`: (handoff id, conversation id)."""
    conversation = uuid.uuid4().hex
    assert desk.chat("hello", conversation).status_code == 200
    with Session(get_engine(desk.settings.database_url)) as session:
        handoff = handoffs.request_handoff(session, conversation, Reason.asked, desk.settings)
        session.commit()
        handoff_id = handoff.handoff.id
    assert handoff_id is not None
    taken = send(desk, "POST", f"/api/agent/handoffs/{handoff_id}/take", holder)
    assert taken.status_code == 200, taken.text
    return handoff_id, conversation


def test_another_agent_reads_a_held_conversation_but_cannot_work_it(
    desk: Backend, priya: Headers, sam: Headers
) -> None:
    handoff_id, conversation = held_by(desk, priya)
    path = f"/api/agent/handoffs/{handoff_id}"
    transcript = send(desk, "GET", f"/api/agent/conversations/{conversation}", sam)
    assert transcript.status_code == 200
    assert transcript.json()["handoff"]["agent_name"] == "Priya"
    assert transcript.json()["handoff"]["agent_username"] == "priya"
    for action, body in (("reply", {"text": "Sam here"}), ("hand-back", None), ("close", None)):
        refused = send(desk, "POST", f"{path}/{action}", sam, body)
        assert refused.status_code == 403, action
        assert "Priya holds this conversation" in refused.json()["detail"]
    mine = send(desk, "GET", "/api/agent/handoffs", sam).json()["mine"]
    assert handoff_id not in [h["id"] for h in mine]
    assert handoff_id in [
        h["id"] for h in send(desk, "GET", "/api/agent/handoffs", priya).json()["mine"]
    ]
    # The holder still works it.
    assert send(desk, "POST", f"{path}/reply", priya, {"text": "Priya here"}).status_code == 200
    assert send(desk, "POST", f"{path}/close", priya).status_code == 200


def test_a_manager_steps_into_a_held_conversation(
    desk: Backend, priya: Headers, manager: Headers
) -> None:
    handoff_id, conversation = held_by(desk, priya)
    path = f"/api/agent/handoffs/{handoff_id}"
    said = send(desk, "POST", f"{path}/reply", manager, {"text": "A supervisor here."})
    assert said.status_code == 200 and said.json()["agent_name"] == "Demo Manager"
    back = send(desk, "POST", f"{path}/hand-back", manager)
    assert back.status_code == 200 and back.json()["status"] == "returned"
    # Ended once: the holder is told so, and the customer hears the bot again.
    late = send(desk, "POST", f"{path}/reply", priya, {"text": "still there?"})
    assert late.status_code == 409
    pending = desk.get(f"/api/chat/{conversation}/messages").json()["messages"]
    assert "Demo Manager has handed you back to the assistant" in " ".join(
        m["text"] for m in pending
    )
    assert desk.chat("thanks", conversation).json()["messages"][0]["text"] == "echo: thanks"


# --- complaint tickets --------------------------------------------------------------------


def new_ticket(desk: Backend, by: Headers) -> str:
    filed = send(
        desk,
        "POST",
        "/api/agent/complaints",
        by,
        {"category": "other", "description": "Taken on the phone: the driver was rude."},
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["owner_username"] is None
    return filed.json()["reference"]


def change(desk: Backend, reference: str, who: Headers, action: str) -> httpx.Response:
    path = f"/api/agent/complaints/{reference}"
    bodies: dict[str, tuple[str, object]] = {
        "progress": ("status", {"status": "in_progress", "note": "On it."}),
        "wait": ("status", {"status": "waiting_for_customer"}),
        "note": ("notes", {"note": "Called the depot."}),
        "resolve": ("resolve", {"outcome": "resolved", "note": "Apologised."}),
        "take": ("assign", {}),
    }
    endpoint, body = bodies[action]
    return send(desk, "POST", f"{path}/{endpoint}", who, body)


def test_an_assigned_ticket_is_changed_by_its_owner_or_a_manager(
    desk: Backend, priya: Headers, sam: Headers, manager: Headers
) -> None:
    reference = new_ticket(desk, sam)
    taken = change(desk, reference, priya, "progress")
    assert taken.status_code == 200 and taken.json()["owner_username"] == "priya"
    assert taken.json()["owner"] == "Priya"
    # Everyone reads it; Sam changes nothing on it.
    assert send(desk, "GET", f"/api/agent/complaints/{reference}", sam).status_code == 200
    for action in ("wait", "note", "resolve", "take"):
        refused = change(desk, reference, sam, action)
        assert refused.status_code == 403, action
        assert "assigned to Priya" in refused.json()["detail"]
    # The owner and a manager do.
    assert change(desk, reference, priya, "note").status_code == 200
    assert change(desk, reference, manager, "wait").status_code == 200
    history = send(desk, "GET", f"/api/agent/complaints/{reference}", sam).json()["history"]
    assert [e["author"] for e in history[-3:]] == ["Priya", "Priya", "Demo Manager"]
    assert change(desk, reference, priya, "resolve").status_code == 200


def test_a_manager_reassigns_an_agent_takes_only_a_free_ticket(
    desk: Backend, priya: Headers, sam: Headers, manager: Headers
) -> None:
    reference = new_ticket(desk, priya)
    path = f"/api/agent/complaints/{reference}/assign"
    # Unassigned: any agent adds a note, and takes it for themselves; not for someone else.
    assert change(desk, reference, sam, "note").status_code == 200
    giving = send(desk, "POST", path, priya, {"username": "sam"})
    assert giving.status_code == 403 and "Only a manager" in giving.json()["detail"]
    mine = change(desk, reference, priya, "take")
    assert mine.status_code == 200 and mine.json()["owner_username"] == "priya"
    assert mine.json()["history"][-1]["kind"] == "assigned"
    assert change(desk, reference, sam, "take").status_code == 403
    # A manager moves it to Sam (a shift change): now Priya is the one refused.
    moved = send(desk, "POST", path, manager, {"username": "sam"})
    assert moved.status_code == 200 and moved.json()["owner_username"] == "sam"
    assert change(desk, reference, priya, "note").status_code == 403
    assert change(desk, reference, sam, "progress").status_code == 200
    unknown = send(desk, "POST", path, manager, {"username": "nobody-here"})
    assert unknown.status_code == 404
    assert change(desk, reference, sam, "resolve").status_code == 200
    closed = send(desk, "POST", path, manager, {"username": "priya"})
    assert closed.status_code == 409


# --- sessions -----------------------------------------------------------------------------


def test_sessions_are_each_agents_own(desk: Backend, sam: Headers) -> None:
    first = sign_in(desk, "priya", PASSWORD)
    second = sign_in(desk, "priya", PASSWORD)  # another device
    assert send(desk, "GET", "/api/agent/me", first).json()["username"] == "priya"
    assert send(desk, "GET", "/api/agent/me", sam).json()["username"] == "sam"
    assert send(desk, "POST", "/api/agent/logout", first).status_code == 204
    assert send(desk, "GET", "/api/agent/me", first).status_code == 401  # ended server-side
    assert send(desk, "GET", "/api/agent/me", second).status_code == 200  # her other device
    assert send(desk, "GET", "/api/agent/me", sam).status_code == 200  # and nobody else's


def test_a_planted_session_id_is_never_adopted(desk: Backend) -> None:
    """Session fixation: a cookie set before sign-in is replaced, and never becomes a session."""
    planted = "attacker-chosen-value-0123456789"
    with desk.client() as client:
        client.cookies.set("parcelline_agent", planted, domain="127.0.0.1")
        done = client.post("/api/agent/login", json={"username": "sam", "password": PASSWORD})
        assert done.status_code == 200
        issued = client.cookies["parcelline_agent"]
        assert issued != planted and issued == done.json()["token"]
    as_planted = {"Authorization": f"Bearer {planted}"}
    assert send(desk, "GET", "/api/agent/me", as_planted).status_code == 401


# --- cross-site requests ------------------------------------------------------------------


def test_another_site_cannot_use_a_bearer_token_or_the_sign_in(
    start_backend: Callable[..., Backend],
) -> None:
    """With a carrier's site allowed to embed the widget (CORS on), that site still cannot send
    an Authorization header to the agents' API, nor read a sign-in's answer."""
    shop = "https://shop.example"
    backend = start_backend(widget_origins=shop)
    with backend.client() as client:
        preflight = client.options(
            "/api/agent/me",
            headers={
                "Origin": shop,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 400
        assert "authorization" not in preflight.headers.get("access-control-allow-headers", "")
        evil = client.options(
            "/api/agent/me",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in evil.headers
        # A cross-site form post carries no session (SameSite=Strict) and no token: 401.
        form = client.post(
            "/api/agent/complaints",
            content="category=other",
            headers={"Origin": shop, "Content-Type": "text/plain"},
        )
        assert form.status_code == 401
        settings = backend.settings
        login = client.post(
            "/api/agent/login",
            json={
                "username": settings.demo_agent_username,
                "password": settings.demo_agent_password,
            },
            headers={"Origin": shop},
        )
        assert login.status_code == 403 and "parcelline_agent" not in login.headers.get(
            "set-cookie", ""
        )


# --- sign-in throttle per address ---------------------------------------------------------


def test_one_address_failing_many_sign_ins_waits(start_backend: Callable[..., Backend]) -> None:
    backend = start_backend(login_max_failures_per_ip=3, login_failure_window_minutes=0.05)
    settings = backend.settings
    right = {"username": settings.demo_agent_username, "password": settings.demo_agent_password}
    with backend.client() as client:
        # Three names, one failure each: no account is near its own lockout.
        for name in ("guess-one", "guess-two", "guess-three"):
            wrong = client.post("/api/agent/login", json={"username": name, "password": "x"})
            assert wrong.status_code == 401
        blocked = client.post("/api/agent/login", json=right)
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.json()["detail"]
        assert 1 <= int(blocked.headers["retry-after"]) <= 4
        time.sleep(int(blocked.headers["retry-after"]))
        again = client.post("/api/agent/login", json=right)
        assert again.status_code == 200, again.text
