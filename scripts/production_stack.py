"""A production stack on this machine's PostgreSQL and Redis, for tests and benchmarks.

One place for what the production e2e tests, the soak test and `make bench-prod` share: a
database of their own, created afresh and seeded; a Redis database of their own; Rasa's
production endpoints written beside the logs; a :class:`Stack` with several Rasa servers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from backend.config import Settings
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.seed import seed_database
from scripts import postgres_admin
from scripts.production import secrets_env, write_endpoints
from scripts.stack import Ports, Stack, free_port

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_PORT = 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def database_url(name: str, port: int = POSTGRES_PORT) -> str:
    """The URL of database `name` on this machine's PostgreSQL, or through a forwarder on
    `port` (the fault tests cut the database off that way)."""
    return make_url(ADMIN_URL).set(database=name, port=port).render_as_string(hide_password=False)


@contextmanager
def seeded_database(name: str, customers: int = 60, shipments: int = 2500) -> Iterator[str]:
    """A fresh PostgreSQL store seeded as `make seed` does (value tiers computed), dropped
    afterwards. Raises OperationalError when PostgreSQL cannot be reached."""
    url = postgres_admin.recreate(database_url(name))
    try:
        seed_database(url, customers=customers, shipments=shipments, seed=11, echo=lambda _: None)
        recompute_all(get_engine(url))
        yield url
    finally:
        # This process's pool first: the cached engine would keep connections the drop ends.
        get_engine(url).dispose()
        postgres_admin.drop(url)


def redis_command(db: int, *words: str) -> bytes:
    """One command to the machine's Redis database `db` in its own protocol (no client
    library needed)."""
    payload = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words
    )
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
        sock.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(str(db))}\r\n{db}\r\n".encode())
        if not sock.recv(64).startswith(b"+OK"):
            raise OSError(f"Redis refused database {db}")
        sock.sendall(payload)
        return sock.recv(65536)


def production_stack(
    model: Path,
    database_url: str,
    redis_db: int,
    log_dir: Path,
    rasa_servers: int = 2,
    env: dict[str, str] | None = None,
    backend_workers: int = 2,
) -> Stack:
    """A stack in production mode on free ports (not started), as `make run-prod` runs it:
    `rasa_servers` Rasa servers sharing trackers in `database_url` and locks in Redis database
    `redis_db`, each with its own action server, and `backend_workers` backend workers sharing
    the gateway's state in the same Redis database."""
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        parcelline_mode="production",
        database_url=database_url,
        redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
    )
    return Stack(
        model=model,
        database_url=database_url,
        ports=Ports.free(),
        log_dir=log_dir,
        endpoints=str(write_endpoints(settings, log_dir / "endpoints.production.yml")),
        rasa_env=secrets_env(settings),
        extra_rasa_ports=[free_port() for _ in range(rasa_servers - 1)],
        extra_action_ports=[free_port() for _ in range(rasa_servers - 1)],
        backend_workers=backend_workers,
        env={"PARCELLINE_MODE": "production", "REDIS_URL": settings.redis_url, **(env or {})},
    )
