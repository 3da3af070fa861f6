"""The app as a whole: settings, the chat page, the OpenAPI document."""

from __future__ import annotations

import json
import re
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


def test_demo_page_embeds_the_widget_with_one_tag(backend):
    page = backend.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    assert '<script src="/widget.js" data-parcelline-widget defer></script>' in page.text
    assert 'name="viewport"' in page.text


def test_widget_script_carries_the_apology_and_a_versioned_stylesheet(backend):
    response = backend.get("/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    script = response.text
    # The apology is baked in as a JS string, for when the backend cannot be reached.
    assert json.dumps(apology_text(backend.settings)) in script
    assert "__APOLOGY__" not in script and "__CSS_VERSION__" not in script
    version = re.search(r'const CSS_VERSION = "([0-9a-f]{16})"', script)
    assert version is not None
    css = backend.get(f"/static/widget/widget.css?v={version.group(1)}")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    with backend.client() as client:
        again = client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_old_chat_page_assets_are_gone(backend):
    for asset in ("/static/chat.js", "/static/chat.css"):
        assert backend.get(asset).status_code == 404


def test_widget_script_never_renders_markup(backend):
    script = backend.get("/widget.js").text
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
        ("GET", "/api/chat/{conversation_id}/history"),
        ("GET", "/api/shipments/{tracking_number}"),
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/api/agent/complaints"),
        ("GET", "/api/agent/complaints/{reference}"),
        ("POST", "/api/agent/complaints/{reference}/status"),
        ("POST", "/api/agent/complaints/{reference}/notes"),
        ("POST", "/api/agent/complaints/{reference}/resolve"),
        ("POST", "/api/agent/complaints/{reference}/assign"),
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
        ("GET", "/api/crm/complaints/categories"),
        ("GET", "/api/crm/satisfaction"),
        ("POST", "/api/crm/recompute"),
    }
    for operation in operations.values():
        assert operation.get("summary") and operation.get("description")
    assert backend.get("/docs").status_code == 200
