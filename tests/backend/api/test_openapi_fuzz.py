"""Schemathesis fuzz of the backend's OpenAPI, in process against the ASGI app.

The app runs on a copy of the seeded SQLite store with a fake Rasa reached through an ASGI
transport (its callbacks come back through the real callback route the same way). Every
operation is fuzzed twice: without credentials, and signed in — with a manager's bearer session
(a manager may call every agent and CRM endpoint), or the internal API token on the internal
endpoints. Checks: no 5xx, responses match their declared schema,
and their status codes are declared. Derandomized with a bounded number of examples, so CI sees
the same cases every run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from backend.api.main import create_app
from backend.config import Settings
from knowledge import index as knowledge_index
from tests.backend.api.conftest import CALLBACK_SECRET, FakeRasa

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# Signing out would end the session the manager's run uses for every other operation.
SIGN_OUT = "/api/agent/logout"
BASE_URL = f"http://{asgi.HOST}"
# Generous: a busy CI machine; a request that never answers still fails.
TIMEOUT = 60
# Where the internal API token, not an agent's session, is the credential.
INTERNAL_PATHS = ("/api/surveys", "/api/tracking-events")


# The operations, from the same code the fixture's app is built from (no store needed for it).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def client(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A requests session into the app in process (Schemathesis' ASGI client, lifespan run)."""
    # A copy: the fuzz writes (complaints, notes, handoffs) where no other test reads.
    store = Path(tmp_path_factory.mktemp("fuzz")) / "store.db"
    shutil.copyfile(database_url.removeprefix("sqlite:///"), store)
    rasa = FakeRasa()
    settings_ = Settings(
        database_url=f"sqlite:///{store}",
        rasa_url="http://rasa.fuzz",
        rasa_callback_secret=CALLBACK_SECRET,
        rasa_timeout_seconds=5.0,
        health_timeout_seconds=2.0,
        chat_rate_per_conversation=0,
        chat_rate_per_ip=0,
        # Guessed passwords for the demo accounts must never lock the manager out.
        login_max_failures=1_000_000,
    )
    app = create_app(settings_, rasa_transport=httpx.ASGITransport(app=rasa.app))
    rasa.callback_transport = httpx.ASGITransport(app=app)
    rasa.callback_url = f"http://backend.fuzz/rasa/callback/{CALLBACK_SECRET}"
    # The knowledge search loads (or first builds) its index and its query encoder once per
    # process: do it before the fuzz, so no request waits for them past its timeout.
    knowledge_index.search("warm up")
    with asgi.get_client(app) as session:
        yield session


@pytest.fixture(scope="module")
def manager(client: Any) -> dict[str, str]:
    settings_: Settings = client.app.state.settings
    response = client.post(
        "/api/agent/login",
        json={
            "username": settings_.demo_manager_username,
            "password": settings_.demo_manager_password,
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@schema.parametrize()
@FUZZ
def test_unauthenticated(case: Any, client: Any) -> None:
    case.call_and_validate(base_url=BASE_URL, session=client, checks=CHECKS, timeout=TIMEOUT)


@schema.exclude(path=SIGN_OUT).parametrize()
@FUZZ
def test_signed_in(case: Any, client: Any, manager: dict[str, str]) -> None:
    """As a manager; the internal endpoints with the internal token instead."""
    internal = case.path.startswith(INTERNAL_PATHS)
    token = client.app.state.settings.internal_api_token
    headers = {"Authorization": f"Bearer {token}"} if internal else manager
    case.call_and_validate(
        base_url=BASE_URL, session=client, checks=CHECKS, headers=headers, timeout=TIMEOUT
    )
