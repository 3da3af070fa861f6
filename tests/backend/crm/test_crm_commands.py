"""The recompute and evaluate commands, and the schedule inside the backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.crm import recompute
from backend.crm.__main__ import main
from backend.crm.config import get_crm_settings
from backend.crm.models import TierChange
from backend.store.db import get_engine, upgrade_database
from backend.store.seed import seed_database
from tests.backend.crm.conftest import AS_OF


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('crm') / 'store.db'}"
    seed_database(url, customers=30, shipments=900, seed=3, anchor=AS_OF, echo=lambda _: None)
    return url


def test_recompute_command_prints_the_pyramid(small_store: str, capsys: Any) -> None:
    assert main(["recompute", "--database-url", small_store]) == 0
    out = capsys.readouterr().out
    assert "As of 2025-06-11 12:00 UTC" in out
    assert "tier A:      6 customers ( 20.0%)" in out
    assert "tier C:     15 customers ( 50.0%)" in out
    # A store with no tier history gets the tiers of the last twelve month starts first.
    assert "Tier history: computed as of the start of the last 12 months" in out
    with Session(get_engine(small_store)) as session:
        moments = set(session.exec(select(TierChange.changed_at)).all())
        assert datetime(2024, 6, 1, tzinfo=UTC) in moments  # the first, one per customer
        assert datetime(2025, 5, 1, tzinfo=UTC) in moments or len(moments) < 13
        assert session.exec(
            select(TierChange).where(col(TierChange.previous_tier).is_not(None))
        ).first()
    assert main(["recompute", "--database-url", small_store]) == 0
    assert "Tier history" not in capsys.readouterr().out  # once only


def test_month_starts() -> None:
    assert recompute.month_starts(AS_OF, 3) == [
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 4, 1, tzinfo=UTC),
        datetime(2025, 5, 1, tzinfo=UTC),
    ]
    assert recompute.month_starts(datetime(2025, 1, 5, tzinfo=UTC), 1) == [
        datetime(2024, 12, 1, tzinfo=UTC)
    ]


def test_evaluate_command_prints_both_aucs(small_store: str, capsys: Any) -> None:
    assert main(["evaluate", "--database-url", small_store, "--as-of", "2025-06-11"]) == 0
    out = capsys.readouterr().out
    assert "AUC churn risk" in out and "AUC recency only" in out


async def test_the_schedule_fills_an_empty_store_soon_after_start(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed_database(url, customers=10, shipments=200, seed=5, anchor=AS_OF, echo=lambda _: None)
    monkeypatch.setattr(recompute, "FIRST_DELAY_SECONDS", 0.0)
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(database_url=url)))
    engine = get_engine(url)
    assert not recompute.has_tiers(engine)
    async with recompute.schedule(app):  # type: ignore[arg-type]
        for _ in range(100):
            if recompute.has_tiers(engine):
                break
            await asyncio.sleep(0.05)
    assert recompute.has_tiers(engine)


def test_the_schedule_skips_figures_another_worker_just_computed(small_store: str) -> None:
    engine = get_engine(small_store)
    settings = get_crm_settings()
    later = datetime.now(UTC) + timedelta(minutes=settings.recompute_minutes)
    # Stale figures (a period old): this worker recomputes; then they are fresh: the next skips.
    assert recompute.scheduled_recompute(engine, settings, now=later) is not None
    assert recompute.scheduled_recompute(engine, settings) is None


def test_the_schedule_skips_while_another_worker_recomputes(postgres_url: str) -> None:
    upgrade_database(postgres_url)
    engine = get_engine(postgres_url)
    with engine.connect() as other_worker:
        lock = func.pg_try_advisory_lock(recompute.SCHEDULE_LOCK)
        assert other_worker.execute(select(lock)).scalar()
        assert recompute.scheduled_recompute(engine, get_crm_settings()) is None
        other_worker.execute(select(func.pg_advisory_unlock(recompute.SCHEDULE_LOCK)))
    # Free again, and an empty store has no figures yet: this worker computes them.
    assert recompute.scheduled_recompute(engine, get_crm_settings()) is not None
