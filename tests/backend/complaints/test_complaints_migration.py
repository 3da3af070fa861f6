"""Migration 0002 adds the complaint tables and takes them away again."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from backend.store.db import alembic_config, get_engine, upgrade_database

TABLES = {"complaint_tickets", "complaint_events"}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_complaint_tables_up_and_down(request: pytest.FixtureRequest, database: str) -> None:
    url = request.getfixturevalue(f"{database}_url")
    upgrade_database(url)
    inspector = inspect(get_engine(url))
    assert set(inspector.get_table_names()) >= TABLES
    foreign_keys = {
        (fk["referred_table"], tuple(fk["constrained_columns"]))
        for fk in inspector.get_foreign_keys("complaint_tickets")
    }
    assert foreign_keys == {
        ("customers", ("customer_id",)),
        ("shipments", ("shipment_id",)),
        ("agents", ("owner_agent_id",)),  # 0007: the owning console account
    }
    command.downgrade(alembic_config(url), "0001")
    assert not TABLES & set(inspect(get_engine(url)).get_table_names())
    upgrade_database(url)
    assert set(inspect(get_engine(url)).get_table_names()) >= TABLES
