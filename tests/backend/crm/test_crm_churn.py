"""Churn risk, its reasons and actions, and the AUC evaluation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from backend.crm import churn, tiers
from backend.crm.models import ChurnRisk, RiskLevel
from backend.store.models import ShipmentStatus
from tests.backend.crm.conftest import AS_OF, Store

WEEKLY = [7 * k + 3 for k in range(52)]  # every week of the last year


def risks(store: Store) -> dict[int, ChurnRisk]:
    with Session(store.engine) as session:
        return {row.customer_id: row for row in session.exec(select(ChurnRisk))}


def test_auc_by_hand() -> None:
    assert churn.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert churn.auc([1, 2, 3], [False, True, True]) == 1.0
    assert churn.auc([3, 2, 1], [False, True, True]) == 0.0
    assert churn.auc([5, 5, 5, 5], [True, False, True, False]) == 0.5  # ties count half
    assert churn.auc([1, 2], [True, True]) is None


def test_a_customer_who_stopped_is_found_with_reasons(store: Store) -> None:
    steady = store.customer()
    store.ship(steady, WEEKLY)
    stopped = store.customer()
    store.ship(stopped, [d for d in WEEKLY if d > 120])  # weekly until four months ago
    never = store.customer()
    tiers.recompute_tiers(store.engine, AS_OF)
    churn.recompute_churn(store.engine, AS_OF)

    found = risks(store)
    assert never not in found  # no shipment in the window: lapsed, not scored
    assert found[steady].level is RiskLevel.low
    assert found[steady].reasons == []
    assert found[steady].suggested_action is None

    gone = found[stopped]
    assert gone.level is RiskLevel.high and gone.score > 0.9
    assert {r["rule"] for r in gone.reasons} == {"frequency", "recency"}
    assert gone.recent_shipments == 0
    # 35 shipments in the 275 days before the last 90, scaled to 90 days.
    assert gone.expected_shipments == pytest.approx(35 * 90 / 275, abs=0.01)
    assert gone.days_since_last == pytest.approx(122)
    assert gone.usual_gap_days == pytest.approx(7)
    assert gone.suggested_action == "call"
    assert any(
        r["text"] == "No shipment for 122 days; their usual gap is 7 days." for r in gone.reasons
    )

    with Session(store.engine) as session:
        listed = churn.at_risk(session, RiskLevel.high)
        assert [risk.customer_id for risk, *_ in listed] == [stopped]
        bands = churn.risk_distribution(session)
    assert sum(b["customers"] for b in bands) == 2
    assert bands[-1]["customers"] == 1  # the stopped customer, risk above 0.9


def test_a_customer_shipping_far_less_gets_a_discount_review(store: Store) -> None:
    small = store.customer()
    store.ship(small, WEEKLY)
    declining = store.customer()
    store.ship(declining, [d for d in WEEKLY if d > 90] + [5, 40])
    big = store.customer()
    for extra in range(3):  # the A customer
        store.ship(big, [d + extra * 0.1 for d in WEEKLY])
    tiers.recompute_tiers(store.engine, AS_OF)
    churn.recompute_churn(store.engine, AS_OF)
    risk = risks(store)[declining]
    assert [r["rule"] for r in risk.reasons] == ["frequency"]
    assert risk.level is RiskLevel.medium
    assert risk.suggested_action == "discount review"


def test_lost_and_damaged_parcels_get_a_service_review(store: Store) -> None:
    customer = store.customer()
    store.ship(customer, [d for d in WEEKLY if d > 20])
    store.ship(customer, [6, 13], status=ShipmentStatus.lost, delivered_at=None)
    store.ship(customer, [2], damaged=True)
    churn.recompute_churn(store.engine, AS_OF)
    risk = risks(store)[customer]
    service = [r for r in risk.reasons if r["rule"] == "service"]
    assert service and service[0]["text"] == "3 of their 13 recent parcels lost or damaged."
    assert risk.level is RiskLevel.medium
    assert risk.suggested_action == "service review"


def test_evaluation_ranks_the_customers_who_stopped_first(store: Store) -> None:
    stoppers = [store.customer() for _ in range(3)]
    stayers = [store.customer() for _ in range(4)]
    for customer in stoppers:  # weekly until 120 days ago: 30 days quiet when scored
        store.ship(customer, [d for d in WEEKLY if d > 120])
    for customer in stayers:
        store.ship(customer, WEEKLY)
    result = churn.evaluate(store.engine, AS_OF)
    assert result.scored_at == AS_OF - timedelta(days=90)
    assert (result.customers, result.stopped) == (7, 3)
    assert result.auc_model == 1.0
    assert result.auc_recency == 1.0
    assert result.high_risk_stopped <= result.high_risk


def test_open_and_frequent_complaints_are_a_reason_to_call(store: Store) -> None:
    calm, upset = store.customer(), store.customer()
    for customer in (calm, upset):
        store.ship(customer, WEEKLY)  # 13 shipments in the last 90 days
    parcels = store.shipment_ids(upset)
    filed = AS_OF - timedelta(days=30)
    store.complaint(upset, parcels[-1], filed, closed=filed + timedelta(hours=5))
    store.complaint(upset, parcels[-2], AS_OF - timedelta(days=2))  # still open
    old = AS_OF - timedelta(days=200)
    store.complaint(upset, parcels[0], old, closed=old + timedelta(days=1))  # long settled
    churn.recompute_churn(store.engine, AS_OF)
    found = risks(store)
    assert found[calm].reasons == []
    reasons = {r["rule"]: r for r in found[upset].reasons}
    assert set(reasons) == {"complaints"}
    assert reasons["complaints"]["text"] == (
        "2 complaints in the last 90 days (15% of their parcels); 1 still open."
    )
    assert reasons["complaints"]["strength"] == 1.0  # 0.5 for the open one + 0.5 x 15 % / 10 %
    assert found[upset].score > found[calm].score
    assert found[upset].suggested_action == "call"


def test_a_complaint_counts_as_open_only_until_it_closed(store: Store) -> None:
    customer = store.customer()
    store.ship(customer, WEEKLY)
    filed = AS_OF - timedelta(days=20)
    store.complaint(customer, None, filed, closed=AS_OF - timedelta(days=10))
    settings = churn.get_crm_settings()
    with store.engine.connect() as connection:
        before = churn.complaint_features(connection, AS_OF - timedelta(days=15), settings)
        after = churn.complaint_features(connection, AS_OF, settings)
        earlier = churn.complaint_features(connection, filed - timedelta(days=1), settings)
    assert before == [{"customer_id": customer, "complaints_recent": 1, "complaints_open": 1}]
    assert after == [{"customer_id": customer, "complaints_recent": 1, "complaints_open": 0}]
    assert earlier == []  # not filed yet


def test_unhappy_survey_answers_about_their_parcels_are_a_reason(store: Store) -> None:
    unhappy, few = store.customer(), store.customer()
    for customer in (unhappy, few):
        store.ship(customer, WEEKLY)
    sent = AS_OF - timedelta(days=10)
    parcels = store.shipment_ids(unhappy)
    for parcel, answers in zip(
        parcels,
        [{"csat": 1}, {"csat": 5, "nps": 3}, {"csat": 2, "nps": 9}, {"csat": 5, "nps": 10}],
        strict=False,
    ):
        store.survey(parcel, sent, answers, customer_id=unhappy)
    store.survey(parcels[5], AS_OF - timedelta(days=150), {"csat": 1}, customer_id=unhappy)
    for parcel in store.shipment_ids(few)[:2]:  # two answers: too few to judge
        store.survey(parcel, sent, {"csat": 1}, customer_id=few)
    churn.recompute_churn(store.engine, AS_OF)
    found = risks(store)
    reasons = {r["rule"]: r for r in found[unhappy].reasons}
    assert reasons["satisfaction"]["text"] == (
        "3 of 4 recent survey answers about their parcels unhappy (CSAT 1-2 or NPS 0-6)."
    )
    assert reasons["satisfaction"]["strength"] == 0.75
    assert found[few].reasons == []


def test_evaluation_reports_the_fitted_weights(store: Store) -> None:
    for customer in [store.customer() for _ in range(3)]:
        store.ship(customer, [d for d in WEEKLY if d > 200])
    for customer in [store.customer() for _ in range(3)]:
        store.ship(customer, WEEKLY)
    result = churn.evaluate(store.engine, AS_OF)
    assert set(result.fitted_weights) == set(churn.RULE_WEIGHTS)
    assert result.fitted_prior in churn.PRIORS
    assert result.auc_without_feedback is not None


def test_the_evaluation_is_kept_until_the_risks_are_recomputed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for customer in [store.customer() for _ in range(3)]:
        store.ship(customer, WEEKLY)
    churn.recompute_churn(store.engine, AS_OF)
    calls: list[object] = []
    evaluate = churn.evaluate

    def counted(*args: object, **kwargs: object) -> churn.Evaluation:
        calls.append(args)
        return evaluate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(churn, "evaluate", counted)
    first = churn.cached_evaluation(store.engine)
    assert churn.cached_evaluation(store.engine) is first
    assert len(calls) == 1
    churn.recompute_churn(store.engine, AS_OF)
    assert churn.cached_evaluation(store.engine) is not first
    assert len(calls) == 2
