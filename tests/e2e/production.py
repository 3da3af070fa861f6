"""Production mode on this machine's PostgreSQL and Redis, for the end-to-end modules that need
it: a seeded database of the module's own, a stack of two Rasa servers sharing trackers and
locks, and gates (TCP forwarders the test opens and closes) to cut a service off mid-test.

Each module names its own database and Redis db, so modules never share state.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from backend.config import Settings
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.seed import seed_database
from knowledge import index as kindex
from scripts.production import ENDPOINTS_FILE, secrets_env, write_endpoints
from scripts.stack import Ports, Stack, free_port
from scripts.train import train

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_PORT = 5432


def redis_command(*words: str, db: int) -> bytes:
    """One command to Redis database `db` in Redis's own protocol (no client library needed)."""
    payload = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words
    )
    with socket.create_connection(("127.0.0.1", 6379), timeout=3) as sock:
        sock.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(str(db))}\r\n{db}\r\n".encode())
        assert sock.recv(64).startswith(b"+OK")
        sock.sendall(payload)
        return sock.recv(65536)


class Gate:
    """A TCP forwarder to one local port (a Rasa server, PostgreSQL) that the test opens and
    closes."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        # Chunks forwarded towards the upstream: a request sent through this gate adds one.
        self.requests = 0
        self._server: socket.socket | None = None
        self._lock = threading.Lock()
        self._open_pairs: list[tuple[socket.socket, socket.socket]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        if self._server is not None:
            return
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones, as a stopped server's port does."""
        server, self._server = self._server, None
        if server is not None:
            # shutdown, not close alone: it wakes the thread blocked in accept() and stops
            # the kernel from accepting on its behalf.
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            pairs, self._open_pairs = self._open_pairs, []
        for pair in pairs:
            for sock in pair:
                sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not server:  # closed while this connection was set up
                    client.close()
                    upstream.close()
                    continue
                self._open_pairs.append((client, upstream))
            for source, target, on_data in (
                (client, upstream, self._count),
                (upstream, client, None),
            ):
                threading.Thread(target=_pump, args=(source, target, on_data), daemon=True).start()

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


def _pump(source: socket.socket, target: socket.socket, on_data: Callable[[], None] | None) -> None:
    try:
        while data := source.recv(65536):
            if on_data is not None:
                on_data()
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def database_url(database: str, port: int = POSTGRES_PORT) -> str:
    """The URL of `database` on this machine's PostgreSQL, or through a gate on `port`."""
    return (
        make_url(ADMIN_URL).set(database=database, port=port).render_as_string(hide_password=False)
    )


@contextlib.contextmanager
def production_store(database: str) -> Iterator[str]:
    """A freshly created and seeded PostgreSQL database, dropped afterwards (skips the test
    when PostgreSQL is not reachable)."""
    admin = create_engine(
        ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )  # fmt: skip
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")
    url = database_url(database)
    seed_database(url, customers=60, shipments=2500, seed=11, echo=lambda _: None)
    recompute_all(get_engine(url))
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def production_stack(
    store_url: str,
    redis_db: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    backend_workers: int = 1,
) -> Iterator[Stack]:
    """Two Rasa servers on the SQL tracker store and Redis lock store, each with its own action
    server and behind a gate (`rasa_gates`), and the backend (`backend_workers` workers sharing
    the gateway's state in Redis db `redis_db`). `store_url` is what every service uses for
    PostgreSQL (a gate's port, to cut the database off)."""
    try:
        assert redis_command("FLUSHDB", db=redis_db).startswith(b"+OK")
    except OSError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    model = train()
    kindex.ensure_built(echo=lambda _line: None)
    settings = Settings(
        parcelline_mode="production",
        database_url=store_url,
        redis_url=f"redis://127.0.0.1:6379/{redis_db}",
    )
    stack = Stack(
        model=model,
        database_url=store_url,
        ports=Ports.free(),
        log_dir=log_dir,
        endpoints=str(write_endpoints(settings, log_dir / ENDPOINTS_FILE.name)),
        rasa_env=secrets_env(settings),
        extra_rasa_ports=[free_port()],
        extra_action_ports=[free_port()],
        backend_workers=backend_workers,
    )
    gates = [Gate(port) for port in stack.rasa_ports.values()]
    for gate in gates:
        gate.open()
    stack.env = {
        "PARCELLINE_MODE": "production",
        "REDIS_URL": settings.redis_url,
        # Production mode opens nothing with the published demo passwords.
        "DEMO_AGENT_PASSWORD": "e2e-production-agent",
        "DEMO_MANAGER_PASSWORD": "e2e-production-manager",
        "RASA_SERVERS": ",".join(gate.url for gate in gates),
        "CHAT_RATE_PER_CONVERSATION": "0",
        "CHAT_RATE_PER_IP": "0",
        **(env or {}),
    }
    stack.gates = gates  # type: ignore[attr-defined]
    stack.start(timeout=420)
    try:
        yield stack
    finally:
        stack.stop()
        for gate in gates:
            gate.close()
        redis_command("FLUSHDB", db=redis_db)


def rasa_gates(stack: Stack) -> list[Gate]:
    """The gates in front of a production stack's Rasa servers, in the order of `rasa_ports`."""
    return stack.gates  # type: ignore[attr-defined,no-any-return]
