"""The CRM dashboard in a real browser: it asks for the token once, draws every chart with
Chart.js, shows the tables and exports CSV. A screenshot is saved to
var/results/crm-dashboard.png.

Skipped where chromium or playwright is not installed (outside `make test`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backend.api.conftest import Backend, login_headers
from tests.browser import require_browser

pytestmark = require_browser()

SCREENSHOT = (
    Path(__file__).resolve().parents[3] / "var" / "artifacts" / "screenshots" / "crm-dashboard.png"
)
CHARTS = [
    "pyramid-chart",
    "revenue-chart",
    "risk-chart",
    "index-on_time_rate",
    "index-completion_rate",
    "index-damage_rate",
    "index-loss_rate",
    "index-complaint_rate",
    "index-resolution_hours",
    "index-sla_compliance",
    "index-csat",
    "index-nps",
    "index-response_rate",
    "categories-chart",
]


@pytest.fixture(scope="module")
def crm(start_backend: Callable[..., Backend]) -> Backend:
    backend = start_backend()
    with backend.client() as client:
        client.post("/api/crm/recompute", headers=login_headers(backend, "manager"))
    return backend


@pytest.fixture
def page(browser, crm):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=crm.url, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/crm")
    page.backend = crm  # type: ignore[attr-defined]  (log_in reads the demo credentials)
    yield page
    context.close()
    assert errors == []


def log_in(page, role: str = "manager") -> None:
    """Sign in on the console's login page, which sends a manager on to the dashboard."""
    settings = page.backend.settings
    username, password = (
        (settings.demo_manager_username, settings.demo_manager_password)
        if role == "manager"
        else (settings.demo_agent_username, settings.demo_agent_password)
    )
    page.wait_for_url("**/agent/login?next=/crm")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_draws_every_chart_with_its_table(page) -> None:
    log_in(page)
    page.locator("body[data-ready='true']").wait_for()
    for chart in CHARTS:
        drawn = page.evaluate(
            "id => { const c = Chart.getChart(id); return c ? c.data.datasets.length : 0; }", chart
        )
        assert drawn >= 1, chart
    tiers = page.evaluate("Chart.getChart('pyramid-chart').data.datasets[0].data")
    assert sum(tiers) == 40 and tiers[0] == 8
    # The index charts carry their target line.
    labels = page.evaluate("Chart.getChart('index-on_time_rate').data.datasets.map(d => d.label)")
    assert any(label.startswith("target") for label in labels)
    assert page.locator("#atrisk-table tbody tr").count() >= 1
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_csv_export_holds_the_table(page) -> None:
    log_in(page)
    page.locator("body[data-ready='true']").wait_for()
    with page.expect_download() as info:
        page.locator("button[data-csv='value-pyramid']").click()
    download = info.value
    assert download.suggested_filename == "value-pyramid.csv"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert (
        lines[0] == "Tier,Customers,Share of customers,Revenue (GBP),Share of revenue,Margin (GBP)"
    )
    assert [line.split(",")[0] for line in lines[1:]] == ["A", "B", "C"]


def test_the_dashboard_needs_a_manager_signed_in(page) -> None:
    log_in(page, "agent")
    page.wait_for_url("**/crm")
    page.get_by_text("The CRM dashboard is for managers.").wait_for()
    page.goto("/agent/login?next=/crm")
    log_in(page)
    page.locator("body[data-ready='true']").wait_for()
    page.reload()
    page.locator("body[data-ready='true']").wait_for()  # the session cookie: no second login


def test_switching_the_index_to_weeks_by_service_level(page) -> None:
    log_in(page)
    page.locator("body[data-ready='true']").wait_for()
    page.select_option("#grain", "week")
    page.select_option("#by", "service_level")
    page.wait_for_function(
        "() => { const c = Chart.getChart('index-on_time_rate');"
        " return c && c.data.labels.length > 20 && c.data.datasets.length >= 3; }"
    )
