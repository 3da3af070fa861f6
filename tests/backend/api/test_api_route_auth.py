"""Every route of the app, enumerated from the app itself, against who may call it.

A route is public only when it is on PUBLIC below with the reason it may be; internal when it is
on INTERNAL (the carrier's systems, with INTERNAL_API_TOKEN); managers' when on MANAGERS; every
other route is an agent's. So an endpoint added without a sign-in check fails here until it is
given one, or reviewed onto a list. Real backend over HTTP, with real sessions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from backend.api.main import create_app
from backend.config import Settings
from tests.backend.api.conftest import Backend, login_headers

# (method, path template) -> why anyone may call it. Reviewed: add an entry only with a reason.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/"): "the carrier's demo page that embeds the widget",
    ("GET", "/widget.js"): "the widget script every shipper's browser loads",
    ("POST", "/api/chat"): "shippers chat without an account; the conversation id is the key",
    ("GET", "/api/chat/{conversation_id}/messages"): "the widget's poll; keyed by the 128-bit id",
    ("GET", "/api/chat/{conversation_id}/history"): "the widget's reload; keyed by the 128-bit id",
    ("WS", "/api/chat/ws"): "the widget's socket; keyed by the 128-bit id",
    ("GET", "/api/shipments/{tracking_number}"): "public tracking: status and scans only",
    ("GET", "/api/knowledge/search"): "the carrier's public help-centre text",
    ("GET", "/api/surveys/{token}"): "a survey link; the unguessable token is the key",
    ("GET", "/api/surveys/{token}/opt-out"): "the stop link in a survey message; token-keyed",
    ("POST", "/rasa/callback/{secret}"): "Rasa's bot messages; the path secret is the key",
    ("GET", "/health"): "load balancers and monitoring; says ok or not, no data",
    ("GET", "/health/live"): "liveness probe",
    ("GET", "/openapi.json"): "the API's description (no data); README points API users to it",
    ("GET", "/docs"): "the API's documentation page",
    ("GET", "/docs/oauth2-redirect"): "part of the documentation page",
    ("GET", "/redoc"): "the API's documentation page",
    ("GET", "/static"): "the pages' scripts and stylesheets",
    ("GET", "/agent/login"): "the console's sign-in page",
    ("POST", "/api/agent/login"): "signing in (throttled per address, lockout per account)",
}
# Carrier systems and scheduled jobs: the bearer INTERNAL_API_TOKEN, never an agent's session.
INTERNAL: set[tuple[str, str]] = {
    ("POST", "/api/tracking-events"),
    ("POST", "/api/surveys/relationship-samples"),
    ("GET", "/api/surveys/relationship-samples"),
    ("GET", "/api/surveys/outbox"),
    ("PATCH", "/api/surveys/outbox/{message_id}"),
    ("GET", "/api/surveys/follow-ups"),
    ("POST", "/api/surveys/opt-outs"),
}
# Management information (revenue, value, churn): managers only; agents get 403.
MANAGER_PREFIXES = ("/api/crm/", "/crm")
# HTML pages: strangers are sent to the sign-in page instead of a 401.
PAGES = {"/agent", "/agent/conversations/{conversation_id}", "/agent/customers/{code}", "/crm"}
# A plausible value for every path parameter (unknown ids, so no write finds its target).
PARAMS = {
    "conversation_id": uuid.uuid4().hex,
    "tracking_number": "LP000000019GB",
    "token": "a" * 43,
    "secret": "not-the-secret",
    "message_id": "999999",
    "handoff_id": "999999",
    "reference": "C-26-99999",
    "code": "CU99999",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    @property
    def path(self) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            assert name in PARAMS, f"add a plausible value for {{{name}}} to PARAMS"
            return PARAMS[name]

        return re.sub(r"{([^}]+)}", fill, self.template)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    @property
    def manager_only(self) -> bool:
        return self.template.startswith(MANAGER_PREFIXES)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def all_endpoints() -> list[Endpoint]:
    """Every method of every route the app serves, from the app's own route table."""
    app = create_app(Settings())  # the default log level, as the session's backends use
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.append(Endpoint("GET", route.path))
            continue
        methods = context.methods
        if methods is None:  # a WebSocket route
            found.append(Endpoint("WS", str(context.path)))
            continue
        found += [Endpoint(m, str(context.path)) for m in sorted(methods) if m != "HEAD"]
    return found


ENDPOINTS = all_endpoints()
SIGNED_IN = [e for e in ENDPOINTS if e.key not in PUBLIC and e.key not in INTERNAL]


@pytest.fixture(scope="module")
def app_server(start_backend: Callable[..., Backend]) -> Backend:
    return start_backend(handoff_hours="always", handoff_sweep_seconds=0)


@pytest.fixture(scope="module")
def agent(app_server: Backend) -> dict[str, str]:
    return login_headers(app_server, "agent")


@pytest.fixture(scope="module")
def manager(app_server: Backend) -> dict[str, str]:
    return login_headers(app_server, "manager")


@pytest.fixture
def client(app_server: Backend) -> Iterator[httpx.Client]:
    with app_server.client() as client:
        yield client


def call(client: httpx.Client, endpoint: Endpoint, **kwargs: object) -> httpx.Response:
    return client.request(endpoint.method, endpoint.path, **kwargs)  # type: ignore[arg-type]


def test_the_table_is_complete_and_the_lists_are_current() -> None:
    keys = {e.key for e in ENDPOINTS}
    assert len(ENDPOINTS) > 50  # the whole app, not a router of it
    assert set(PUBLIC) <= keys, f"public entries for routes gone: {set(PUBLIC) - keys}"
    assert keys >= INTERNAL, f"internal entries for routes gone: {INTERNAL - keys}"
    assert any(e.manager_only for e in ENDPOINTS)
    assert {e.template for e in ENDPOINTS} >= PAGES
    # Every method a write can use appears, so a PUT or DELETE added later is caught too.
    assert {e.method for e in SIGNED_IN} >= {"GET", "POST"}


@pytest.mark.parametrize("endpoint", SIGNED_IN, ids=str)
def test_no_session_no_entry(client: httpx.Client, endpoint: Endpoint) -> None:
    response = call(client, endpoint)
    if endpoint.template in PAGES:
        assert response.status_code == 303, response.text[:300]
        assert response.headers["location"].startswith("/agent/login")
    else:
        assert response.status_code == 401, response.text[:300]
        assert response.headers.get("www-authenticate") == "Bearer"
    forged = call(client, endpoint, headers={"Authorization": "Bearer forged-token"})
    assert forged.status_code in (303, 401)
    client.cookies.set("parcelline_agent", "forged-token")
    assert call(client, endpoint).status_code in (303, 401)


@pytest.mark.parametrize("endpoint", SIGNED_IN, ids=str)
def test_agents_are_kept_to_their_own_routes(
    app_server: Backend,
    client: httpx.Client,
    endpoint: Endpoint,
    agent: dict[str, str],
    manager: dict[str, str],
) -> None:
    if endpoint.template == "/api/agent/logout":  # ends its session: a session of its own
        agent = login_headers(app_server, "agent")
    response = call(client, endpoint, headers=agent)
    if endpoint.manager_only:
        assert response.status_code == 403, response.text[:300]
        if endpoint.method == "GET":  # a manager passes (writes are not run here)
            assert call(client, endpoint, headers=manager).status_code not in (401, 403)
    else:
        # Past the sign-in check: the answer is about the request (200, 404, 409, 422).
        assert response.status_code not in (401, 403), response.text[:300]


def test_no_undeclared_method_reaches_a_signed_in_path(client: httpx.Client) -> None:
    """PUT, PATCH, DELETE (or GET, POST) on a signed-in path that does not declare them: never a
    success, with or without a session."""
    declared: dict[str, set[str]] = {}
    for endpoint in SIGNED_IN:
        declared.setdefault(endpoint.template, set()).add(endpoint.method)
    tried = 0
    for template, methods in declared.items():
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - methods:
            response = call(client, Endpoint(method, template))
            assert not response.is_success, f"{method} {template}: {response.status_code}"
            tried += 1
    assert tried > 100


@pytest.mark.parametrize("endpoint", [e for e in SIGNED_IN if e.method in WRITES], ids=str)
def test_cookie_writes_need_the_consoles_origin(
    app_server: Backend, endpoint: Endpoint, agent: dict[str, str]
) -> None:
    """The CSRF fence on every state-changing route: the session cookie alone is not enough."""
    token = agent["Authorization"].removeprefix("Bearer ")
    with app_server.client() as client:
        client.cookies.set("parcelline_agent", token)
        assert call(client, endpoint).status_code == 403
        evil = {"Origin": "https://evil.example"}
        assert call(client, endpoint, headers=evil).status_code == 403
        spoofed = {"Referer": "https://evil.example/agent"}
        assert call(client, endpoint, headers=spoofed).status_code == 403


@pytest.mark.parametrize("endpoint", sorted(INTERNAL, key=str), ids=str)
def test_internal_routes_want_the_internal_token_not_a_session(
    client: httpx.Client, endpoint: tuple[str, str], manager: dict[str, str], app_server: Backend
) -> None:
    internal = Endpoint(*endpoint)
    assert call(client, internal).status_code == 401
    assert call(client, internal, headers=manager).status_code == 401
    if internal.method == "GET":  # the token passes (writes are not run on the shared store)
        token = {"Authorization": f"Bearer {app_server.settings.internal_api_token}"}
        assert call(client, internal, headers=token).status_code not in (401, 403)


def test_production_refuses_the_published_internal_token(
    start_backend: Callable[..., Backend],
) -> None:
    published = {"Authorization": "Bearer dev-internal-token"}
    demo = start_backend(parcelline_mode="production")
    assert demo.get("/health/live").status_code == 200
    with demo.client() as client:
        assert client.get("/api/surveys/outbox", headers=published).status_code == 401
    own = start_backend(parcelline_mode="production", internal_api_token="our-own-long-token")
    with own.client() as client:
        mine = {"Authorization": "Bearer our-own-long-token"}
        assert client.get("/api/surveys/outbox", headers=mine).status_code == 200


def test_the_public_keys_are_checked(client: httpx.Client) -> None:
    """The public routes that take a key refuse a wrong one."""
    callback = client.post("/rasa/callback/not-the-secret", json={"recipient_id": "x" * 10})
    assert callback.status_code == 403
    assert client.get(f"/api/surveys/{PARAMS['token']}").status_code == 404
