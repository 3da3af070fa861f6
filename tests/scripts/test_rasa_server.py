"""scripts/rasa_server.py, run in the Rasa environment: valid action server responses pass the
once-compiled check, invalid ones are refused by Rasa's own check with its own message; the SQL
tracker store answers on the first request after its pooled connections were cut, and fails
while the database is unreachable instead of answering from an empty conversation; Redis locks
shared by several servers issue each ticket once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from scripts import postgres_admin
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
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain

mode, database, admin_url = sys.argv[1:]
if mode == "product":
    rasa_server.check_tracker_connections()
    rasa_server.fail_turns_on_tracker_store_errors()
sql = SQLTrackerStore(
    Domain.empty(), dialect="postgresql", host="127.0.0.1", port=5432, db=database,
    username="postgres",
)
store = FailSafeTrackerStore(sql)  # as Rasa's agent wraps every tracker store
admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")

def cut(refuse_new: bool) -> None:
    with admin.connect() as connection:
        if refuse_new:  # the database unreachable from now on
            connection.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        connection.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"
        ), {"db": database})

async def main():
    await sql.retrieve("probe")  # leaves a connection in the pool
    cut(refuse_new=False)  # what a restart or a cut network does to it
    try:
        await sql.retrieve("probe")
        print("after-cut:answered")
    except sa.exc.OperationalError:
        print("after-cut:failed")
    cut(refuse_new=True)
    try:
        found = await store.retrieve("probe")
        print("outage:stranger" if found is None else "outage:found")
    except sa.exc.OperationalError:
        print("outage:raised")

asyncio.run(main())
"""


@pytest.fixture
def tracker_database() -> Iterator[str]:
    url = make_url(ADMIN_URL).set(database=PROBE_DATABASE).render_as_string(hide_password=False)
    try:
        postgres_admin.recreate(url)
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")
    yield PROBE_DATABASE
    postgres_admin.drop(url)


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("product", ["after-cut:answered", "outage:raised"]),
        ("as-rasa-ships", ["after-cut:failed", "outage:stranger"]),
    ],
)
def test_tracker_store_recovers_and_never_answers_a_stranger(
    tracker_database: str, mode: str, outcome: list[str]
) -> None:
    """After PostgreSQL cut the pooled connections, Rasa's own pool fails the next request; the
    checked one answers. With the database unreachable, Rasa's fail-safe wrapper reads an empty
    conversation (the shipper's form forgotten for that turn); the product's fails the turn."""
    admin_psycopg2 = ADMIN_URL.replace("+psycopg", "")  # the Rasa environment has psycopg2
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", TRACKER_PROBE, mode, tracker_database, admin_psycopg2],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=rasa_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == outcome


LOCK_PROBE = """
import sys, threading, uuid
sys.path.insert(0, "scripts")
import rasa_server
from rasa.core.lock_store import RedisLockStore

if sys.argv[1] == "product":
    rasa_server.change_redis_locks_atomically()
# Four Rasa servers sharing one conversation's lock in Redis, each taking 100 tickets at once.
servers = [RedisLockStore(host="127.0.0.1", port=6379, db=12, key_prefix="probe") for _ in range(4)]
conversation = uuid.uuid4().hex
issued = []
start = threading.Barrier(len(servers))

def serve(store):
    start.wait()
    for _ in range(100):
        issued.append(store.issue_ticket(conversation, 60))

threads = [threading.Thread(target=serve, args=(store,)) for store in servers]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
kept = len(servers[0].get_lock(conversation).tickets)
for number in issued:
    servers[number % len(servers)].cleanup(conversation, number)
print(len(issued), len(set(issued)), kept, servers[0].get_lock(conversation) is None)
"""


def test_redis_locks_issue_every_ticket_once_across_servers() -> None:
    """Rasa's Redis lock store reads, changes and writes a lock back: servers taking tickets at
    the same moment get the same number (two turns of one conversation at once) or lose one.
    The product changes each lock in one transaction: 400 tickets, 400 numbers, all kept."""
    try:
        Redis(host="127.0.0.1", port=6379, db=12).ping()
    except RedisError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    figures = {}
    for mode in ("as-rasa-ships", "product"):
        done = subprocess.run(
            [str(RASA_PYTHON), "-c", LOCK_PROBE, mode],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=rasa_env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        figures[mode] = done.stdout.split()[-4:]
    assert figures["product"] == ["400", "400", "400", "True"]
    issued, unique, _kept, _deleted = figures["as-rasa-ships"]
    assert int(unique) < int(issued), "the probe no longer shows the race it guards against"
