"""GET /health (database and Rasa) and GET /health/live."""

from __future__ import annotations

from tests.backend.api.conftest import UNREACHABLE_POSTGRES


def test_health_ok_when_everything_answers(backend):
    response = backend.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "rasa": {"ok": True}},
    }


def test_health_503_when_rasa_is_down(start_backend, unused_port):
    down = start_backend(rasa_url=f"http://127.0.0.1:{unused_port}")
    response = down.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["rasa"]["ok"] is False
    assert "unreachable" in body["checks"]["rasa"]["detail"]


def test_health_503_when_something_else_answers_on_the_rasa_port(start_backend, backend):
    # The backend's own root page is not Rasa's greeting.
    impostor = start_backend(rasa_url=backend.url + "/health/live")
    check = impostor.get("/health").json()["checks"]["rasa"]
    assert check["ok"] is False


def test_health_503_when_database_is_down(start_backend):
    no_db = start_backend(database_url=UNREACHABLE_POSTGRES)
    response = no_db.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["rasa"] == {"ok": True}
    # The reason is named, the credentials are not.
    assert "secret" not in response.text


def test_live_needs_no_dependency(start_backend, unused_port):
    nothing = start_backend(
        rasa_url=f"http://127.0.0.1:{unused_port}", database_url=UNREACHABLE_POSTGRES
    )
    response = nothing.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
