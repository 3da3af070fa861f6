"""The CRM API over HTTP: managers only (a session token), every figure, the OpenAPI listing,
the page."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.backend.api.conftest import Backend, login_headers

AUTH: dict[str, str] = {}  # a manager's session, filled by the `crm` fixture
FIGURES = [
    "/api/crm/tiers/summary",
    "/api/crm/tiers",
    "/api/crm/tier-changes",
    "/api/crm/churn/distribution",
    "/api/crm/churn/at-risk",
    "/api/crm/churn/evaluation",
    "/api/crm/sampling",
    "/api/crm/satisfaction",
    "/api/crm/satisfaction/definitions",
    "/api/crm/complaints/categories",
]


@pytest.fixture(scope="module")
def crm(start_backend: Callable[..., Backend]) -> Backend:
    backend = start_backend()
    AUTH.update(login_headers(backend, "manager"))
    with backend.client() as client:
        response = client.post("/api/crm/recompute", headers=AUTH)
    assert response.status_code == 200, response.text
    return backend


def get(backend: Backend, path: str, headers: dict[str, str] | None = AUTH) -> httpx.Response:
    with backend.client() as client:
        return client.get(path, headers=headers)


@pytest.mark.parametrize("path", FIGURES)
def test_every_figure_is_for_managers_only(crm: Backend, path: str) -> None:
    assert get(crm, path, headers=None).status_code == 401
    wrong = get(crm, path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert get(crm, path, headers=login_headers(crm, "agent")).status_code == 403
    assert get(crm, path).status_code == 200


def test_other_schemes_are_refused(crm: Backend) -> None:
    for headers in ({"Authorization": "Bearer x"}, {"Authorization": "Basic eDp4"}):
        assert get(crm, "/api/crm/tiers/summary", headers=headers).status_code == 401


def test_tier_summary_adds_up(crm: Backend) -> None:
    summary = get(crm, "/api/crm/tiers/summary").json()
    shares = {t["tier"]: t for t in summary["tiers"]}
    assert sum(t["customers"] for t in shares.values()) == 40  # the seeded store
    assert shares["A"]["customers"] == 8  # 20 % of 40 active customers
    assert sum(t["revenue_share"] for t in shares.values()) == pytest.approx(1)
    assert shares["A"]["revenue_share"] > 0.5  # the Pareto shape


def test_customer_tier_and_history(crm: Backend) -> None:
    best = get(crm, "/api/crm/tiers?tier=A&limit=1").json()[0]
    detail = get(crm, f"/api/crm/customers/{best['code']}/tier").json()
    assert detail["current"]["tier"] == "A"
    assert detail["history"][-1]["previous_tier"] is None
    assert detail["churn_risk"]["level"] in {"high", "medium", "low"}
    assert get(crm, "/api/crm/customers/CU99999/tier").status_code == 404


def test_at_risk_rows_carry_reasons_and_actions(crm: Backend) -> None:
    rows = get(crm, "/api/crm/churn/at-risk?level=medium&limit=500").json()
    assert rows, "the seeded store has customers at risk"
    for row in rows:
        assert row["level"] in {"high", "medium"}
        assert row["reasons"] and all(r["text"] for r in row["reasons"])
        assert row["suggested_action"] in {"call", "discount review", "service review"}
    at_risk = [r["revenue_at_risk"] for r in rows]
    assert at_risk == sorted(at_risk, reverse=True)


def test_satisfaction_index_shape(crm: Backend) -> None:
    index = get(crm, "/api/crm/satisfaction?grain=month&by=service_level").json()
    keys = {i["key"] for i in index["indicators"]}
    assert {"on_time_rate", "complaint_rate", "csat", "nps", "response_rate"} <= keys
    shares = {i["key"] for i in index["indicators"] if i["unit"] == "share"}
    groups = {"standard", "express", "same_day", "freight", "unknown"}
    assert {r["group"] for r in index["rows"]} <= groups
    assert all(
        r["value"] is None or 0 <= r["value"] <= 1
        for r in index["rows"]
        if r["indicator"] in shares
    )
    assert all(
        r["value"] is None or -100 <= r["value"] <= 100
        for r in index["rows"]
        if r["indicator"] == "nps"
    )
    assert any(r["value"] is not None for r in index["rows"] if r["indicator"] == "csat")
    bad = get(crm, "/api/crm/satisfaction?grain=day")
    assert bad.status_code == 422


def test_complaint_categories_cover_every_category(crm: Backend) -> None:
    result = get(crm, "/api/crm/complaints/categories").json()
    assert {c["category"] for c in result["categories"]} >= {"late_delivery", "damaged", "lost"}
    assert result["since"] < result["until"]
    assert (
        get(crm, "/api/crm/complaints/categories?since=2025-06-01&until=2025-05-01").status_code
        == 422
    )


def test_openapi_documents_every_figure(crm: Backend) -> None:
    paths = get(crm, "/openapi.json", headers=None).json()["paths"]
    for path in [*FIGURES, "/api/crm/recompute", "/api/crm/customers/{code}/tier"]:
        assert path in paths, path


def test_dashboard_page_is_served_with_a_policy(crm: Backend) -> None:
    with crm.client() as client:
        assert client.get("/crm").status_code == 303  # not signed in: to the console's login
    assert get(crm, "/crm", headers=login_headers(crm, "agent")).status_code == 403
    page = get(crm, "/crm")
    assert page.status_code == 200
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'
    assert "/static/crm/vendor/chart.umd.min.js" in page.text
    assert get(crm, "/static/crm/vendor/chart.umd.min.js", headers=None).status_code == 200
