"""The processes the stack starts: one action server per Rasa server, and the backend's workers;
and the demo agent's credentials the backend gets."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from scripts.stack import Ports, Stack, use_write_ahead_log


def production_stack(action_servers: int, rasa_servers: int = 2, workers: int = 2) -> Stack:
    return Stack(
        model=Path("model.tar.gz"),
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/x",
        ports=Ports(actions=6055, rasa=6005, backend=6000),
        extra_rasa_ports=[6005 + n for n in range(1, rasa_servers)],
        extra_action_ports=[6055 + n for n in range(1, action_servers)],
        backend_workers=workers,
    )


def test_each_rasa_server_calls_its_own_action_server() -> None:
    stack = production_stack(action_servers=2)
    commands = stack.commands()
    assert list(commands) == ["actions", "actions2", "rasa", "rasa2", "backend"]
    assert commands["actions2"][-2:] == ["--port", "6056"]
    assert stack._env_for("rasa")["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6055/webhook"
    assert stack._env_for("rasa2")["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6056/webhook"
    assert stack._env_for("actions2")["SANIC_HOST"] == "127.0.0.1"
    # Ready means every server answers, both action servers included.
    assert stack.health_urls()["actions2"] == "http://127.0.0.1:6056/health"
    assert set(stack.health_urls()) == set(commands)


def test_fewer_action_servers_are_shared_round_robin() -> None:
    stack = production_stack(action_servers=2, rasa_servers=3)
    endpoints = [stack._env_for(name)["ACTION_ENDPOINT_URL"] for name in stack.rasa_ports]
    assert [e.split(":")[-1] for e in endpoints] == ["6055/webhook", "6056/webhook", "6055/webhook"]


def test_the_backend_runs_its_workers_on_one_port() -> None:
    backend = production_stack(action_servers=2, workers=3).commands()["backend"]
    assert backend[backend.index("--port") + 1] == "6000"
    assert backend[backend.index("--workers") + 1] == "3"
    embedded = Stack(model=Path("m"), database_url="sqlite:///x.db").commands()
    assert list(embedded) == ["actions", "rasa", "backend"]
    assert embedded["backend"][embedded["backend"].index("--workers") + 1] == "1"


def test_the_demo_credentials_are_the_ones_the_backend_gets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for role in ("AGENT", "MANAGER"):
        for item in ("USERNAME", "PASSWORD"):
            monkeypatch.delenv(f"DEMO_{role}_{item}", raising=False)
    embedded = Stack(model=Path("m"), database_url="sqlite:///x.db")
    assert embedded.credentials() == ("agent", "parcelline-agent-demo")
    assert embedded.credentials("manager") == ("manager", "parcelline-manager-demo")
    production = production_stack(action_servers=1)
    production.env.update({"DEMO_AGENT_PASSWORD": "own-agent-secret", "DEMO_MANAGER_USERNAME": "m"})
    assert production.credentials() == ("agent", "own-agent-secret")
    assert production.credentials("manager") == ("m", "parcelline-manager-demo")


def test_a_sqlite_store_is_put_in_write_ahead_log_mode_and_postgresql_is_left_alone(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.db"
    with closing(sqlite3.connect(store)) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    use_write_ahead_log(f"sqlite:///{store}")
    # Kept in the file: every later connection, in any process, uses the log.
    with closing(sqlite3.connect(store)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    use_write_ahead_log("sqlite://")  # in memory: nothing to do
    use_write_ahead_log("postgresql+psycopg://postgres@127.0.0.1:5432/never_touched")
