"""Alembic environment: migrates the database named by DATABASE_URL (or the URL a caller passes).

Every module that defines tables must be imported below so autogenerate and `alembic check`
see the whole schema.
"""

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import backend.agents.models  # noqa: F401  (registers the agent account tables)
import backend.complaints.models  # noqa: F401  (registers the complaint tables)
import backend.conversations.models  # noqa: F401  (registers the chat transcript)
import backend.crm.models  # noqa: F401  (registers the CRM tables)
import backend.handoff.models  # noqa: F401  (registers the handoff queue)
import backend.store.models  # noqa: F401  (registers the store's tables)
import backend.surveys.models  # noqa: F401  (registers the survey tables)
from backend.store.db import get_engine, resolve_url
from backend.store.models import EnumText, UTCDateTime

config = context.config
# Programmatic runs (upgrade_database, tests) keep the host application's logging untouched.
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Migrations spell the store's column types in plain SQLAlchemy so they never import app code.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EnumText):
        return f"sa.String(length={obj.impl_instance.length})"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def database_url() -> str:
    return resolve_url(config.attributes.get("database_url"))


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(database_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_item=render_item,
            # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
