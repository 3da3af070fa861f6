"""The monthly relationship sample: count per manager, no repeats, weighting, fixed seed."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.crm.models import ChurnRisk, CustomerTier, RiskLevel, Tier
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.models import Customer, CustomerKind
from backend.surveys.models import (
    OutboxChannel,
    OutboxMessage,
    RelationshipSample,
    SurveyInvitation,
    SurveyKind,
)
from backend.surveys.sampling import previous_period, sample_relationships

NOW = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backend.store.seed import seed_database
    from tests.backend.conftest import STORE_ANCHOR

    path = tmp_path_factory.mktemp("sampling") / "template.db"
    seed_database(
        f"sqlite:///{path}", customers=120, shipments=4000, seed=3, anchor=STORE_ANCHOR, echo=str
    )
    recompute_all(get_engine(f"sqlite:///{path}"), STORE_ANCHOR)  # the CRM's tiers and risk
    return path


@pytest.fixture
def store(template_db: Path, tmp_path: Path) -> str:
    """A private copy of the seeded store: sampling writes."""
    copy = tmp_path / "store.db"
    shutil.copy(template_db, copy)
    return f"sqlite:///{copy}"


def test_per_manager_count_and_what_is_stored(store: str) -> None:
    with Session(get_engine(store)) as session:
        result = sample_relationships(session, "2025-06", per_manager=5, seed=1, now=NOW)
        session.commit()
        per_manager = Counter(s.account_manager for s in result.samples)
        managers = {
            c.account_manager
            for c in session.exec(select(Customer).where(Customer.kind == CustomerKind.business))
        }
        assert set(per_manager) == managers
        assert set(per_manager.values()) == {5}
        for sample in result.samples:
            customer = session.get(Customer, sample.customer_id)
            assert customer is not None and customer.kind is CustomerKind.business
            assert customer.account_manager == sample.account_manager
            assert sample.reasons and sample.weight >= 1
            invitation = session.get(SurveyInvitation, sample.invitation_id)
            assert invitation is not None and invitation.kind is SurveyKind.relationship
            assert invitation.contact == customer.email.lower()
        ids = {s.invitation_id for s in result.samples}
        messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.email)
        ).all()
        assert {m.invitation_id for m in messages} == ids


def test_the_same_seed_draws_the_same_sample(store: str, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    shutil.copy(store.removeprefix("sqlite:///"), other)
    picks = []
    for url in (store, f"sqlite:///{other}"):
        with Session(get_engine(url)) as session:
            result = sample_relationships(session, "2025-06", per_manager=3, seed=42, now=NOW)
            picks.append(sorted(s.customer_id for s in result.samples))
    assert picks[0] == picks[1]


def test_a_sampled_month_is_not_sampled_again(store: str) -> None:
    with Session(get_engine(store)) as session:
        first = sample_relationships(session, "2025-06", per_manager=2, seed=1, now=NOW)
        session.commit()
        again = sample_relationships(session, "2025-06", per_manager=5, seed=2, now=NOW)
        assert first.created and not again.created
        assert {s.id for s in again.samples} == {s.id for s in first.samples}


def test_never_the_same_customer_two_months_running(store: str) -> None:
    with Session(get_engine(store)) as session:
        months = ["2025-04", "2025-05", "2025-06"]
        picked = {}
        for month in months:
            result = sample_relationships(session, month, per_manager=5, seed=7, now=NOW)
            session.commit()
            picked[month] = {s.customer_id for s in result.samples}
        assert not picked["2025-04"] & picked["2025-05"]
        assert not picked["2025-05"] & picked["2025-06"]
        rows = session.exec(select(RelationshipSample)).all()
        assert len(rows) == len({(r.period, r.customer_id) for r in rows})


def test_previous_period_wraps_the_year() -> None:
    assert previous_period("2025-01") == "2024-12"
    assert previous_period("2025-06") == "2025-05"


def test_a_tier_and_at_risk_customers_are_drawn_more_often(store: str) -> None:
    """Over many seeded draws, the CRM's A-tier and at-risk customers are picked more often
    than their share, and each pick says why."""
    with Session(get_engine(store)) as session:
        tier = dict(session.exec(select(CustomerTier.customer_id, CustomerTier.tier)).all())
        level = dict(session.exec(select(ChurnRisk.customer_id, ChurnRisk.level)).all())
        at_risk = {c for c, lv in level.items() if lv is RiskLevel.high}
        picks: Counter[str] = Counter()
        draws = 0
        for seed in range(60):
            period = f"{2000 + seed}-01"
            result = sample_relationships(session, period, per_manager=2, seed=seed, now=NOW)
            for sample in result.samples:
                picks["A" if tier.get(sample.customer_id) is Tier.A else "other"] += 1
                picks["risk" if sample.customer_id in at_risk else "safe"] += 1
                if sample.customer_id in at_risk:
                    assert "churn risk" in sample.reasons
                draws += 1
            session.rollback()
        business = [
            c.id
            for c in session.exec(select(Customer).where(Customer.kind == CustomerKind.business))
            if c.id in tier and tier[c.id] is not None and c.id in level
        ]
        a_share = sum(tier[c] is Tier.A for c in business) / len(business)
        risk_share = sum(c in at_risk for c in business) / len(business)
    assert 0 < a_share < 1 and 0 < risk_share < 1
    assert picks["A"] / draws > a_share * 1.3
    assert picks["risk"] / draws > risk_share * 1.2


def test_a_month_without_a_seed_draws_the_same_sample(store: str, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    shutil.copy(store.removeprefix("sqlite:///"), other)
    picks = []
    for url in (store, f"sqlite:///{other}"):
        with Session(get_engine(url)) as session:
            result = sample_relationships(session, "2025-06", per_manager=3, now=NOW)
            picks.append(sorted(s.customer_id for s in result.samples))
    assert picks[0] == picks[1]
