"""Dialect-aware SQL pieces shared by the CRM figures (SQLite and PostgreSQL).

Timestamps are kept in UTC on both databases (see backend/store/models.py); periods and
calendar days here are UTC ones. Deliveries happen between 07:00 and 21:00 UK time, when the
UTC date and the UK date agree, so "delivered on or before the promised date" is the same in
either calendar for every real delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from backend.store.models import SeedInfo

Grain = Literal["week", "month"]


def utc_date(dialect: str, column: Any) -> ColumnElement[Any]:
    """The UTC calendar date of a timestamp column, comparable with a DATE column."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def hours_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    """Hours from `start` to `end` (timestamps, or what an aggregate of them returns)."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def default_as_of(db: Session | Connection) -> datetime:
    """The moment figures are computed for: the seed's anchor on a demo store, else now."""
    anchor = db.execute(
        select(SeedInfo.anchor).order_by(col(SeedInfo.id).desc()).limit(1)
    ).scalar_one_or_none()
    return anchor if anchor is not None else datetime.now(UTC)


RECOMPUTE_LOCK = 7_000_007  # advisory lock key of CRM recomputations on PostgreSQL


def lock_recompute(connection: Connection) -> None:
    """Serialise recomputations (the schedule, the command, the API) on PostgreSQL; SQLite
    already lets one writer at a time."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(RECOMPUTE_LOCK)))
