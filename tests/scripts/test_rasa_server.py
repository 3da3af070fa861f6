"""scripts/rasa_server.py, run in the Rasa environment: valid action server responses pass the
once-compiled check, invalid ones are refused by Rasa's own check with its own message; the SQL
tracker store answers on the first request after its pooled connections were cut."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from scripts.paths import RASA_PYTHON, ROOT
from scripts.train import rasa_env

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROBE_DATABASE = "parcelline_faults_tracker_probe"

PROBE = """
import sys
sys.path.insert(0, "scripts")
import rasa_server
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
rasa_server.compile_response_check()
action = RemoteAction("action_probe", None)
print("valid", action._validate_action_result({"events": [], "responses": [{"text": "hi"}]}))
try:
    action._validate_action_result({"events": "not a list"})
except ValidationError as error:
    print("refused", "Failed to validate Action server response" in error.message)
"""


def test_responses_are_checked_once_compiled_and_refused_as_before() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split()
    assert lines[-4:] == ["valid", "True", "refused", "True"]


TRACKER_PROBE = """
import asyncio, sys
import sqlalchemy as sa
sys.path.insert(0, "scripts")
import rasa_server
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

if sys.argv[1] == "checked":
    rasa_server.check_tracker_connections()
store = SQLTrackerStore(
    Domain.empty(), dialect="postgresql", host="127.0.0.1", port=5432, db=sys.argv[2],
    username="postgres",
)
admin = sa.create_engine(sys.argv[3], isolation_level="AUTOCOMMIT")

async def main():
    await store.retrieve("probe")  # leaves a connection in the pool
    with admin.connect() as connection:  # what a restart or a cut network does to it
        connection.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"
        ), {"db": sys.argv[2]})
    try:
        await store.retrieve("probe")
        print("answered")
    except sa.exc.OperationalError:
        print("failed")

asyncio.run(main())
"""


@pytest.fixture
def tracker_database() -> Iterator[str]:
    admin = create_engine(
        ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )  # fmt: skip
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{PROBE_DATABASE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{PROBE_DATABASE}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")
    yield PROBE_DATABASE
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PROBE_DATABASE}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize(
    ("mode", "outcome"), [("checked", "answered"), ("as-rasa-ships", "failed")]
)
def test_tracker_store_survives_cut_connections(
    tracker_database: str, mode: str, outcome: str
) -> None:
    # Rasa's own pool fails the first request on a dead connection; the checked one does not.
    admin_psycopg2 = ADMIN_URL.replace("+psycopg", "")  # the Rasa environment has psycopg2
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", TRACKER_PROBE, mode, tracker_database, admin_psycopg2],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=rasa_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == outcome
