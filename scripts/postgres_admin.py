"""Create and drop PostgreSQL databases: the store's database on a new machine, and the fresh
databases that tests and benchmarks make for themselves and drop afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

CONNECT_TIMEOUT_SECONDS = 5


def quote_identifier(name: str) -> str:
    """`name` as a PostgreSQL identifier, whatever characters it holds (CREATE DATABASE takes
    no bound parameters)."""
    return '"' + name.replace('"', '""') + '"'


def _database_name(url: str | URL) -> str:
    name = make_url(url).database
    if not name:
        raise ValueError("the URL names no database")
    return name


@contextmanager
def admin_connection(url: str | URL, database: str = "postgres") -> Iterator[Connection]:
    """An AUTOCOMMIT connection to `database` on `url`'s server: by default its maintenance
    database, which every PostgreSQL has. AUTOCOMMIT because CREATE and DROP DATABASE cannot
    run inside a transaction."""
    engine = create_engine(
        make_url(url).set(database=database), poolclass=NullPool, isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )  # fmt: skip
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def ensure(url: str) -> str | None:
    """Create a PostgreSQL store's database when the server has none of that name (a new
    machine); None when it exists or was created, or `url` is not PostgreSQL; else why it
    cannot be reached or made, in one line."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return None
    name = parsed.database
    try:
        with admin_connection(parsed) as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.execute(text(f"CREATE DATABASE {quote_identifier(name)}"))
                print(f"  created database {name}", flush=True)
    except (OperationalError, ProgrammingError) as exc:
        first_line = (str(exc.orig).splitlines() or ["?"])[0]
        return f"cannot reach or create database {name!r}: {first_line}"
    return None


def recreate(url: str) -> str:
    """Drop `url`'s database if it exists and create it empty; `url`. Raises OperationalError
    when PostgreSQL cannot be reached."""
    name = quote_identifier(_database_name(url))
    with admin_connection(url) as connection:
        # FORCE: connections a previous run left open would otherwise block the drop.
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    return url


def drop(url: str) -> None:
    """Drop `url`'s database if it exists, closing the connections still open to it."""
    name = quote_identifier(_database_name(url))
    with admin_connection(url) as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
