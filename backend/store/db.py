"""Engines, sessions and schema upgrades for the customer store.

Nothing here connects at import time: engines are built on first use, one per database URL,
and shared by every caller in the process (the API, the action server, the seed script).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from backend.config import get_settings

BACKEND_DIR = Path(__file__).resolve().parent.parent
ALEMBIC_INI = BACKEND_DIR / "alembic.ini"
MIGRATIONS_DIR = BACKEND_DIR / "migrations"


def resolve_url(url: str | None = None) -> str:
    return url or get_settings().database_url


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured DATABASE_URL)."""
    return _engine_for(resolve_url(url))


@cache
def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # The API serves requests from a thread pool; SQLite's own check would refuse that.
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        # An unreachable host should fail a request in seconds, not hang it.
        connect_args["connect_timeout"] = 10
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # SQLite ignores foreign keys unless each connection asks for them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = Session(get_engine(url))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request on the configured database."""
    with Session(get_engine()) as session:
        yield session


def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config for backend/migrations aimed at `url`, with logging left alone."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option: ini values treat '%' as interpolation.
    config.attributes["database_url"] = resolve_url(url)
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (what `alembic upgrade head` does)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


STARTUP_LOCK = 7_000_011  # advisory lock key of the backend's start-up writes on PostgreSQL


def serialise_startup(connection: Connection) -> None:
    """Hold the start-up lock until the transaction ends, so backend workers starting together
    make their start-up writes one after another (on PostgreSQL; SQLite has one writer)."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(STARTUP_LOCK)))
