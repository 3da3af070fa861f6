"""The app as a whole: settings, the chat page, the OpenAPI document."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from backend.api.main import create_app
from backend.api.rasa_gateway import apology_text
from backend.config import get_settings


@pytest.fixture
def clean_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_settings_come_from_the_environment(monkeypatch, clean_settings_cache):
    monkeypatch.setenv("RASA_URL", "http://rasa.internal:5005")
    monkeypatch.setenv("RASA_CALLBACK_SECRET", "from-the-environment")
    monkeypatch.setenv("SUPPORT_PHONE", "0800 000 000")
    settings = create_app().state.settings
    assert settings.rasa_url == "http://rasa.internal:5005"
    assert settings.rasa_callback_secret == "from-the-environment"
    assert settings.support_phone == "0800 000 000"


def test_chat_page_is_served_with_its_assets(backend):
    page = backend.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    text = page.text
    assert '<label for="message"' in text
    assert 'aria-live="polite"' in text
    assert 'name="viewport"' in text
    # The apology is baked into the page, escaped, for when the backend cannot be reached.
    assert html.escape(apology_text(backend.settings), quote=True) in text
    assert "__APOLOGY__" not in text

    for asset, kind in (("/static/chat.js", "javascript"), ("/static/chat.css", "text/css")):
        response = backend.get(asset)
        assert response.status_code == 200
        assert kind in response.headers["content-type"]


def test_chat_script_never_renders_markup(backend):
    script = backend.get("/static/chat.js").text
    assert "textContent" in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_openapi_documents_every_public_route(backend):
    document = backend.get("/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("POST", "/api/chat"),
        ("GET", "/api/chat/{conversation_id}/messages"),
        ("GET", "/api/shipments/{tracking_number}"),
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/api/agent/complaints"),
        ("GET", "/api/agent/complaints/{reference}"),
        ("POST", "/api/agent/complaints/{reference}/status"),
        ("POST", "/api/agent/complaints/{reference}/notes"),
        ("POST", "/api/agent/complaints/{reference}/resolve"),
        ("POST", "/api/agent/complaints"),
        ("POST", "/api/agent/login"),
        ("POST", "/api/agent/logout"),
        ("GET", "/api/agent/me"),
        ("GET", "/api/agent/handoffs"),
        ("POST", "/api/agent/handoffs/{handoff_id}/take"),
        ("POST", "/api/agent/handoffs/{handoff_id}/reply"),
        ("POST", "/api/agent/handoffs/{handoff_id}/hand-back"),
        ("POST", "/api/agent/handoffs/{handoff_id}/close"),
        ("GET", "/api/agent/conversations"),
        ("GET", "/api/agent/conversations/{conversation_id}"),
        ("GET", "/api/agent/customers"),
        ("GET", "/api/agent/customers/{code}"),
        ("POST", "/api/agent/assist"),
        ("POST", "/api/agent/address-changes"),
        ("POST", "/api/agent/surveys"),
        ("POST", "/api/tracking-events"),
        ("GET", "/api/surveys/figures"),
        ("GET", "/api/surveys/relationship-samples"),
        ("POST", "/api/surveys/relationship-samples"),
        ("GET", "/api/surveys/outbox"),
        ("PATCH", "/api/surveys/outbox/{message_id}"),
        ("GET", "/api/surveys/follow-ups"),
        ("POST", "/api/surveys/opt-outs"),
        ("GET", "/api/surveys/{token}"),
        ("GET", "/api/surveys/{token}/opt-out"),
        ("GET", "/api/knowledge/search"),
        ("GET", "/api/crm/tiers/summary"),
        ("GET", "/api/crm/tiers"),
        ("GET", "/api/crm/tier-changes"),
        ("GET", "/api/crm/customers/{code}/tier"),
        ("GET", "/api/crm/churn/distribution"),
        ("GET", "/api/crm/churn/at-risk"),
        ("GET", "/api/crm/churn/evaluation"),
        ("GET", "/api/crm/sampling"),
        ("GET", "/api/crm/satisfaction/definitions"),
        ("GET", "/api/crm/satisfaction"),
        ("POST", "/api/crm/recompute"),
    }
    for operation in operations.values():
        assert operation.get("summary") and operation.get("description")
    assert backend.get("/docs").status_code == 200
