"""Value score and ABC tiers on stores whose right answers are known by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from backend.crm import tiers
from backend.crm.config import CrmSettings
from backend.crm.models import CustomerTier, Tier, TierChange
from tests.backend.crm.conftest import AS_OF, Store


def stored(store: Store) -> dict[int, CustomerTier]:
    with Session(store.engine) as session:
        return {row.customer_id: row for row in session.exec(select(CustomerTier))}


def test_cut_offs_round_up_and_never_overshoot() -> None:
    assert tiers.cut_offs(10) == (2, 5)
    assert tiers.cut_offs(600) == (120, 300)
    assert tiers.cut_offs(3) == (1, 2)  # 0.6 -> 1, 1.5 -> 2
    assert tiers.cut_offs(1) == (1, 1)
    assert tiers.cut_offs(0) == (0, 0)
    assert tiers.cut_offs(10, CrmSettings(a_share=0.1, b_share=0.2)) == (1, 3)


def test_ten_customers_split_two_three_five_by_score(store: Store) -> None:
    # Customer i sends i parcels of £10 (margin £2 each): every measure but the average
    # grows with i, so the order is known.
    ids = [store.customer() for _ in range(10)]
    for i, customer in enumerate(ids, start=1):
        store.ship(customer, [10 + k for k in range(i)])
    run = tiers.recompute_tiers(store.engine, AS_OF)

    assert run.counts == {"A": 2, "B": 3, "C": 5}
    rows = stored(store)
    assert [rows[c].tier for c in ids] == [Tier.C] * 5 + [Tier.B] * 3 + [Tier.A] * 2
    assert [rows[c].rank for c in reversed(ids)] == list(range(1, 11))
    best = rows[ids[-1]]
    assert (best.shipments, best.revenue, best.margin, best.avg_revenue) == (10, 100, 20, 10)
    # Average revenue is the same for everyone (rank 0), so the top score is 0.30+0.30+0.25.
    assert best.score == pytest.approx(0.85)
    assert rows[ids[0]].score == pytest.approx(0.0)

    with Session(store.engine) as session:
        shares = {s.tier: s for s in tiers.tier_summary(session)}
    assert shares[Tier.A].customer_share == pytest.approx(0.2)
    assert shares[Tier.A].revenue == pytest.approx(190)  # (10 + 9) parcels of £10
    assert shares[Tier.A].revenue_share == pytest.approx(19 / 55)
    assert shares[Tier.C].revenue_share == pytest.approx(15 / 55)


def test_tied_customers_at_a_boundary_all_take_the_better_tier(store: Store) -> None:
    counts = [10, 9, 9, 7, 6, 5, 4, 3, 2, 1]  # the 2nd and 3rd are identical
    ids = [store.customer() for _ in counts]
    for customer, count in zip(ids, counts, strict=True):
        store.ship(customer, [5 + k for k in range(count)])
    tiers.recompute_tiers(store.engine, AS_OF)
    rows = stored(store)
    assert [rows[c].rank for c in ids] == [1, 2, 2, 4, 5, 6, 7, 8, 9, 10]
    assert [rows[c].tier.value for c in ids] == list("AAABBCCCCC")


def test_customers_without_shipments_in_the_window_are_c_and_not_counted(store: Store) -> None:
    active = [store.customer() for _ in range(5)]
    for i, customer in enumerate(active, start=1):
        store.ship(customer, [3 * k + 1 for k in range(i)])
    never = store.customer()
    lapsed = store.customer()
    store.ship(lapsed, [400, 500], revenue=1000.0, cost=10.0)  # before the window
    run = tiers.recompute_tiers(store.engine, AS_OF)

    # Five active customers: A is position 1 (ceil 1.0), B positions 2-3 (ceil 2.5).
    assert (run.customers, run.active) == (7, 5)
    rows = stored(store)
    assert [rows[c].tier.value for c in active] == list("CCBBA")
    for customer in (never, lapsed):
        assert (rows[customer].tier, rows[customer].rank, rows[customer].score) == (Tier.C, None, 0)
        assert rows[customer].revenue == 0


def test_an_empty_store_has_empty_tiers(store: Store) -> None:
    run = tiers.recompute_tiers(store.engine, AS_OF)
    assert (run.customers, run.counts) == (0, {"A": 0, "B": 0, "C": 0})
    with Session(store.engine) as session:
        assert all(s.customers == 0 and s.revenue_share == 0 for s in tiers.tier_summary(session))


def test_history_records_first_tiers_then_only_changes(store: Store) -> None:
    ids = [store.customer() for _ in range(5)]
    for i, customer in enumerate(ids, start=1):
        store.ship(customer, [2 * k + 1 for k in range(i)])
    with Session(store.engine) as session:
        assert tiers.current_tier(session, ids[0]) is Tier.C  # not scored yet

    first = AS_OF + timedelta(hours=1)
    tiers.recompute_tiers(store.engine, AS_OF, now=first)
    # The smallest customer becomes the biggest.
    store.ship(ids[0], [k + 0.5 for k in range(20)], revenue=30.0, cost=20.0)
    second = AS_OF + timedelta(days=1)
    run = tiers.recompute_tiers(store.engine, AS_OF + timedelta(hours=2), now=second)

    # Before: C C B B A. After: the climber is A, the old leader B, the third C.
    assert run.changes == 3
    with Session(store.engine) as session:
        assert tiers.current_tier(session, ids[0]) is Tier.A
        changes = [(c.customer_id, c.previous_tier, c.tier) for c, _ in tiers.tier_changes(session)]
        assert sorted(changes) == sorted(
            [(ids[0], Tier.C, Tier.A), (ids[4], Tier.A, Tier.B), (ids[2], Tier.B, Tier.C)]
        )
        history = tiers.tier_changes(session, customer_id=ids[0])
        assert [(c.previous_tier, c.tier) for c, _ in history] == [(Tier.C, Tier.A), (None, Tier.C)]
        all_rows = session.exec(select(TierChange)).all()
        assert len(all_rows) == 5 + 3
    rows = stored(store)
    assert rows[ids[0]].since == second  # entered A now
    assert rows[ids[3]].since == first  # stayed B since the first run
