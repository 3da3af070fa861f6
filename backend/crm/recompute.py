"""Recompute every CRM figure: the command (`python -m backend.crm recompute`), the schedule
inside the backend, and the API's "recompute now" all call `recompute_all`.

Every backend worker runs the schedule; `scheduled_recompute` lets one of them do each period's
work: the others skip while it runs (a PostgreSQL advisory lock they only try) and when the
figures are fresher than half a period."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from backend.crm import churn, tiers
from backend.crm.config import CrmSettings, get_crm_settings
from backend.crm.models import CustomerTier, TierChange
from backend.crm.satisfaction import collect, roll_up
from backend.crm.sql import default_as_of
from backend.store.db import get_engine
from backend.store.models import as_utc

logger = logging.getLogger("backend.crm")
# The index views the dashboard draws, timed with the recomputation.
INDEX_VIEWS = (("month", "none"), ("week", "none"), ("month", "service_level"), ("month", "region"))
FIRST_DELAY_SECONDS = 5.0  # after start, before the first check for missing figures
SCHEDULE_LOCK = 7_000_008  # advisory lock key of the schedule's runs on PostgreSQL


@dataclass
class Recomputed:
    as_of: datetime
    tiers: tiers.TierRun
    at_risk: int
    seconds: dict[str, float] = field(default_factory=dict)


def recompute_all(
    engine: Engine, as_of: datetime | None = None, settings: CrmSettings | None = None
) -> Recomputed:
    """Tiers, then churn (its suggested actions read the new tiers), then the index."""
    settings = settings or get_crm_settings()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if as_of is None:
        with engine.connect() as connection:
            as_of = default_as_of(connection)
    tier_run = tiers.recompute_tiers(engine, as_of, settings)
    seconds["tiers"] = time.perf_counter() - started
    phase = time.perf_counter()
    risks = churn.recompute_churn(engine, as_of, settings)
    seconds["churn"] = time.perf_counter() - phase
    phase = time.perf_counter()
    with engine.connect() as connection:
        # One scan per source for the year, rolled up to each grain and grouping.
        totals = collect(connection, since=as_of - timedelta(days=365), until=as_of, as_of=as_of)
    for grain, by in INDEX_VIEWS:
        roll_up(totals, grain=grain, by=by)
    seconds["index"] = time.perf_counter() - phase
    seconds["total"] = time.perf_counter() - started
    at_risk = sum(r.level.value == "high" for r in risks)
    return Recomputed(as_of, tier_run, at_risk, seconds)


def month_starts(as_of: datetime, months: int) -> list[datetime]:
    """The first moment (UTC) of each of the `months` months before the one holding `as_of`,
    oldest first."""
    year, month = as_of.year, as_of.month
    starts = []
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        starts.append(datetime(year, month, 1, tzinfo=as_of.tzinfo))
    return starts[::-1]


def backfill_tier_history(
    engine: Engine, as_of: datetime, months: int, settings: CrmSettings | None = None
) -> int:
    """On a store with no tier history yet (a new or demo store), compute the tiers as they
    stood at the start of each of the last `months` months, dated then, so the history and
    the tier-change events show how customers moved. Returns the months computed (0 when
    there was history already)."""
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(TierChange)).scalar():
            return 0
    starts = month_starts(as_of, months)
    for moment in starts:
        tiers.recompute_tiers(engine, moment, settings, now=moment)
    return len(starts)


def has_tiers(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(select(func.count()).select_from(CustomerTier)).scalar())


def scheduled_recompute(
    engine: Engine, settings: CrmSettings, now: datetime | None = None
) -> Recomputed | None:
    """The schedule's run: recompute (and refit the churn evaluation the dashboard shows),
    unless another worker is doing it now or did it less than half a period ago (None)."""
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if (
            postgres
            and not connection.execute(select(func.pg_try_advisory_lock(SCHEDULE_LOCK))).scalar()
        ):
            return None
        try:
            last = connection.execute(select(func.max(CustomerTier.computed_at))).scalar()
            # End the read: SQLite's writer below would wait for it (a session lock stays).
            connection.commit()
            fresh_for = timedelta(minutes=settings.recompute_minutes / 2)
            if last is not None and (now or datetime.now(UTC)) - as_utc(last) < fresh_for:
                return None
            done = recompute_all(engine, None, settings)
            # Ready before a manager opens the dashboard: the refit takes seconds.
            churn.cached_evaluation(engine, settings)
            return done
        finally:
            if postgres:
                connection.execute(select(func.pg_advisory_unlock(SCHEDULE_LOCK)))
                connection.commit()


@asynccontextmanager
async def schedule(app: FastAPI) -> AsyncIterator[None]:
    """Recompute every `recompute_minutes` (and soon after start when nothing is computed)."""
    settings = get_crm_settings()
    task = None
    if settings.recompute_minutes > 0:
        task = asyncio.create_task(_loop(app, settings))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def _loop(app: FastAPI, settings: CrmSettings) -> None:
    engine = get_engine(app.state.settings.database_url)
    first = True
    while True:
        try:
            if first:
                first = False
                await asyncio.sleep(FIRST_DELAY_SECONDS)
                if await asyncio.to_thread(has_tiers, engine):
                    await asyncio.sleep(settings.recompute_minutes * 60)
            else:
                await asyncio.sleep(settings.recompute_minutes * 60)
            done = await asyncio.to_thread(scheduled_recompute, engine, settings)
            if done is None:
                logger.info("crm figures fresh or being recomputed by another worker: skipped")
                continue
            logger.info(
                "crm figures recomputed in %.2f s (as of %s)", done.seconds["total"], done.as_of
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the schedule must outlive a database that is down
            logger.warning("crm recompute failed: %s: %s", type(exc).__name__, exc)
