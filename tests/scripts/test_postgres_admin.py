"""PostgreSQL databases made and dropped: the one a new machine lacks, made before the store is
migrated; the fresh ones of tests and benchmarks; any name, quoted."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from scripts import postgres_admin

SERVER = make_url("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def exists(name: str) -> bool:
    with postgres_admin.admin_connection(SERVER) as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
    return found is not None


def dropped_first(name: str) -> str:
    """The URL of database `name`, which does not exist yet (skips without PostgreSQL)."""
    url = SERVER.set(database=name).render_as_string(hide_password=False)
    try:
        postgres_admin.drop(url)
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")
    return url


def test_a_missing_postgresql_database_is_created_once() -> None:
    name = "parcelline_stack_new_db_test"
    url = dropped_first(name)
    try:
        assert postgres_admin.ensure(url) is None
        assert postgres_admin.ensure(url) is None  # already there: nothing to do
        with create_engine(url, poolclass=NullPool).connect() as connection:
            assert connection.execute(text("SELECT current_database()")).scalar_one() == name
    finally:
        postgres_admin.drop(url)
    assert not exists(name)


def test_an_unreachable_postgresql_server_is_said_in_one_line() -> None:
    problem = postgres_admin.ensure("postgresql+psycopg://postgres@127.0.0.1:1/parcelline")
    assert problem is not None
    assert problem.startswith("cannot reach or create database 'parcelline'")
    assert "\n" not in problem
    assert postgres_admin.ensure("sqlite:///var/store.db") is None


def test_recreate_leaves_an_empty_database_even_with_a_connection_open() -> None:
    # A name that needs quoting: a double quote and a space.
    name = 'parcelline admin "quoted" test'
    url = dropped_first(name)
    try:
        assert postgres_admin.recreate(url) == url
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE leftover (id integer)"))
        # Left open, as a crashed run leaves its connections: recreate ends it.
        held = engine.connect()
        postgres_admin.recreate(url)
        held.invalidate()
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'")
            ).scalar_one()
        assert tables == 0
        engine.dispose()
    finally:
        postgres_admin.drop(url)
    assert not exists(name)


def test_an_admin_connection_to_a_database_of_its_own() -> None:
    """As the CRM bench makes a schema per store size in its database."""
    name = "parcelline_admin_schema_test"
    url = dropped_first(name)
    try:
        postgres_admin.recreate(url)
        schema = postgres_admin.quote_identifier("bench_1x")
        with postgres_admin.admin_connection(url, database=name) as connection:
            assert connection.execute(text("SELECT current_database()")).scalar_one() == name
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        with create_engine(url, poolclass=NullPool).connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = 'bench_1x'")
            ).scalar_one()
        assert found == 1
    finally:
        postgres_admin.drop(url)


def test_names_are_quoted_as_postgresql_identifiers() -> None:
    assert postgres_admin.quote_identifier("store") == '"store"'
    assert postgres_admin.quote_identifier('a"b; DROP') == '"a""b; DROP"'
