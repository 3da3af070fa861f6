"""Managers' CRM figures: value tiers, churn risk, the satisfaction index, and the dashboard
page that draws them. Every figure has its JSON endpoint (for the page and for BI tools);
all of them are for managers only: a manager's console session (cookie) or its bearer token
(POST /api/agent/login) for BI tools. Agents get 403. Definitions: backend/crm/README.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import col, select

from backend.agents.models import Role
from backend.agents.service import Identity
from backend.api.routes import MAX_ROW_ID, EngineDep, SessionDep, invalid
from backend.api.routes.auth import MANAGER_REFUSALS, optional_agent, require_manager
from backend.api.schemas import refusal
from backend.crm import churn, satisfaction, tiers
from backend.crm.config import get_crm_settings
from backend.crm.models import ChurnRisk, CustomerTier, RiskLevel, Tier
from backend.crm.recompute import recompute_all, schedule
from backend.crm.sql import default_as_of
from backend.store.models import Customer, as_utc
from backend.surveys.models import RelationshipSample

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

router = APIRouter(lifespan=schedule)
api = APIRouter(
    prefix="/api/crm",
    tags=["CRM (managers)"],
    dependencies=[Depends(require_manager)],
    responses=MANAGER_REFUSALS | {503: refusal("The database is unreachable.")},
)


# ---------------------------------------------------------------- models


class TierShareOut(BaseModel):
    tier: Tier
    customers: int
    customer_share: float = Field(description="Share of all customers, 0..1.")
    revenue: float = Field(description="Revenue in the value window, GBP.")
    revenue_share: float = Field(description="Share of window revenue, 0..1.")
    margin: float


class TierSummaryOut(BaseModel):
    computed_at: datetime | None = Field(description="None until the first recomputation.")
    window_days: int
    tiers: list[TierShareOut]


class CustomerTierOut(BaseModel):
    code: str
    name: str
    account_manager: str
    tier: Tier
    score: float
    rank: int | None
    shipments: int
    revenue: float
    margin: float
    avg_revenue: float
    since: datetime


class TierChangeOut(BaseModel):
    code: str
    name: str
    account_manager: str
    previous_tier: Tier | None
    tier: Tier
    score: float
    changed_at: datetime


class ReasonOut(BaseModel):
    rule: str
    strength: float
    text: str


class CustomerRiskOut(BaseModel):
    score: float
    level: RiskLevel
    reasons: list[ReasonOut]
    suggested_action: str | None
    computed_at: datetime


class CustomerTierDetail(BaseModel):
    current: CustomerTierOut | None
    history: list[TierChangeOut]
    churn_risk: CustomerRiskOut | None = Field(
        default=None, description="None when the customer has no shipment in the window."
    )


class RiskBandOut(BaseModel):
    band: str
    low: float
    customers: int


class AtRiskOut(BaseModel):
    code: str
    name: str
    account_manager: str
    tier: Tier | None
    score: float
    level: RiskLevel
    revenue_at_risk: float = Field(description="Risk times window revenue, GBP.")
    reasons: list[ReasonOut]
    suggested_action: str | None
    recent_shipments: int
    expected_shipments: float
    days_since_last: float | None
    usual_gap_days: float | None


class EvaluationOut(BaseModel):
    scored_at: datetime
    outcome_until: datetime
    customers: int
    stopped: int
    auc_model: float | None = Field(description="The configured score.")
    auc_recency: float | None = Field(description="Baseline: days since the last shipment.")
    auc_without_feedback: float | None = Field(
        description="The configured score without the complaint and survey rules."
    )
    fitted_prior: float
    fitted_weights: dict[str, float] = Field(description="Rule weights fitted on the split before.")
    auc_fitted: float | None = Field(description="The fitted prior and weights.")
    high_risk: int
    high_risk_stopped: int


class IndicatorOut(BaseModel):
    key: str
    label: str
    unit: str
    better: str
    target: float | None
    definition: str


class IndexRowOut(BaseModel):
    period: str
    group: str
    indicator: str
    numerator: float
    denominator: float
    value: float | None = Field(description="None when the period has no data.")


class IndexOut(BaseModel):
    grain: Literal["week", "month"]
    by: Literal["none", "service_level", "region"]
    since: datetime
    until: datetime
    indicators: list[IndicatorOut]
    rows: list[IndexRowOut]


class CategoryOut(BaseModel):
    category: str
    complaints: int
    share: float | None = Field(description="Share of the range's complaints, 0..1.")
    still_open: int
    closed: int
    resolution_hours: float | None = Field(
        description="Average hours from filing to closing, of those closed."
    )


class CategoriesOut(BaseModel):
    since: datetime
    until: datetime
    categories: list[CategoryOut]


class SampledCustomer(BaseModel):
    code: str
    name: str
    account_manager: str
    tier: Tier | None
    risk: float | None = Field(description="Churn risk now (None when not scored).")
    weight: float = Field(description="Sampling weight when the customer was drawn.")
    reasons: str


class SampleOut(BaseModel):
    month: str
    customers: list[SampledCustomer]


class RecomputeOut(BaseModel):
    as_of: datetime
    customers: int
    tier_counts: dict[str, int]
    tier_changes: int
    high_risk: int
    seconds: dict[str, float]


# ---------------------------------------------------------------- tiers


@api.get("/tiers/summary", response_model=TierSummaryOut, summary="Value pyramid")
def tier_summary(session: SessionDep) -> TierSummaryOut:
    """Each tier's share of customers and of revenue in the value window."""
    computed = session.exec(select(CustomerTier.computed_at).limit(1)).first()
    return TierSummaryOut(
        computed_at=computed,
        window_days=get_crm_settings().window_days,
        tiers=[TierShareOut(**vars(share)) for share in tiers.tier_summary(session)],
    )


def _tier_out(row: CustomerTier, customer: Customer) -> CustomerTierOut:
    return CustomerTierOut(
        code=customer.code,
        name=customer.name,
        account_manager=customer.account_manager,
        **row.model_dump(exclude={"customer_id", "computed_at"}),
    )


@api.get("/tiers", response_model=list[CustomerTierOut], summary="Customers by value")
def customer_tiers(
    session: SessionDep,
    tier: Tier | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[CustomerTierOut]:
    """Customers with their tier and value score, best first."""
    query = select(CustomerTier, Customer).join(Customer)
    if tier is not None:
        query = query.where(CustomerTier.tier == tier)
    query = query.order_by(CustomerTier.score.desc(), Customer.id).offset(offset).limit(limit)
    return [_tier_out(row, customer) for row, customer in session.exec(query)]


def _change_out(change, customer: Customer) -> TierChangeOut:
    return TierChangeOut(
        code=customer.code,
        name=customer.name,
        account_manager=customer.account_manager,
        previous_tier=change.previous_tier,
        tier=change.tier,
        score=change.score,
        changed_at=change.changed_at,
    )


@api.get("/tier-changes", response_model=list[TierChangeOut], summary="Tier change events")
def tier_changes(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[TierChangeOut]:
    """Customers who moved between tiers, newest first (first assignments are not listed)."""
    return [_change_out(c, customer) for c, customer in tiers.tier_changes(session, limit)]


@api.get(
    "/customers/{code}/tier",
    response_model=CustomerTierDetail,
    summary="One customer's tier, history and churn risk",
    responses={404: {"description": "No customer has this code."}},
)
def customer_tier(code: str, session: SessionDep) -> CustomerTierDetail:
    """The tier a customer holds now, every tier they entered (newest first), and their
    churn risk with its reasons: what an agent needs before talking to them."""
    customer = session.exec(select(Customer).where(Customer.code == code.upper())).first()
    if customer is None or customer.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No customer has the code {code}.")
    row = session.get(CustomerTier, customer.id)
    history = tiers.tier_changes(session, 1000, customer_id=customer.id)
    risk = session.get(ChurnRisk, customer.id)
    return CustomerTierDetail(
        current=_tier_out(row, customer) if row else None,
        history=[_change_out(c, cu) for c, cu in history],
        churn_risk=CustomerRiskOut(
            score=risk.score,
            level=risk.level,
            reasons=[ReasonOut(**r) for r in risk.reasons],
            suggested_action=risk.suggested_action,
            computed_at=risk.computed_at,
        )
        if risk
        else None,
    )


# ---------------------------------------------------------------- churn


@api.get("/churn/distribution", response_model=list[RiskBandOut], summary="Churn-risk bands")
def churn_distribution(session: SessionDep) -> list[RiskBandOut]:
    """Customers per risk band of width 0.1."""
    return [RiskBandOut(**band) for band in churn.risk_distribution(session)]


@api.get("/churn/at-risk", response_model=list[AtRiskOut], summary="At-risk customers")
def at_risk(
    session: SessionDep,
    level: RiskLevel = RiskLevel.high,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AtRiskOut]:
    """Customers at `level` risk or above, by revenue at risk, with reasons and an action."""
    result = []
    for risk, customer, tier, revenue in churn.at_risk(session, level, limit):
        result.append(
            AtRiskOut(
                code=customer.code,
                name=customer.name,
                account_manager=customer.account_manager,
                tier=tier,
                score=risk.score,
                level=risk.level,
                revenue_at_risk=round(risk.score * revenue, 2),
                reasons=[ReasonOut(**r) for r in risk.reasons],
                suggested_action=risk.suggested_action,
                recent_shipments=risk.recent_shipments,
                expected_shipments=risk.expected_shipments,
                days_since_last=risk.days_since_last,
                usual_gap_days=risk.usual_gap_days,
            )
        )
    return result


@api.get("/churn/evaluation", response_model=EvaluationOut, summary="Churn model evaluation")
def churn_evaluation(engine: EngineDep) -> EvaluationOut:
    """AUC of the risk score on held-back months, against a recency-only baseline (computed
    once per recomputation of the churn risks)."""
    return EvaluationOut(**vars(churn.cached_evaluation(engine)))


@api.get("/sampling", response_model=SampleOut, summary="Monthly relationship sample")
def sampling(
    session: SessionDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
) -> SampleOut:
    """Customers drawn for the month's relationship survey (weighted toward A-tier and
    at-risk customers; drawn by `python -m backend.surveys sample` or the internal
    `POST /api/surveys/relationship-samples`), with their tier and churn risk now."""
    month = month or f"{datetime.now(UTC):%Y-%m}"
    rows = session.exec(
        select(RelationshipSample, Customer, CustomerTier.tier, ChurnRisk.score)
        .join(Customer, col(Customer.id) == RelationshipSample.customer_id)
        .outerjoin(CustomerTier, col(CustomerTier.customer_id) == Customer.id)
        .outerjoin(ChurnRisk, col(ChurnRisk.customer_id) == Customer.id)
        .where(RelationshipSample.period == month)
        .order_by(col(RelationshipSample.account_manager), col(RelationshipSample.weight).desc())
    ).all()
    return SampleOut(
        month=month,
        customers=[
            SampledCustomer(
                code=customer.code,
                name=customer.name,
                account_manager=sample.account_manager,
                tier=tier,
                risk=None if risk is None else round(risk, 4),
                weight=sample.weight,
                reasons=sample.reasons,
            )
            for sample, customer, tier, risk in rows
        ],
    )


# ---------------------------------------------------------------- satisfaction index


@api.get("/satisfaction/definitions", response_model=list[IndicatorOut], summary="Indicators")
def indicator_definitions() -> list[IndicatorOut]:
    """What each indicator of the satisfaction index means, with its target."""
    return [IndicatorOut(**d) for d in satisfaction.definitions()]


@api.get("/satisfaction", response_model=IndexOut, summary="Satisfaction index")
def satisfaction_index(
    engine: EngineDep,
    grain: Literal["week", "month"] = "month",
    by: Literal["none", "service_level", "region"] = "none",
    since: datetime | None = None,
    until: datetime | None = None,
) -> IndexOut:
    """Every indicator per period and group. `until` defaults to the data's as-of moment;
    `since` to the start of the month a year before it (months) or of the week 26 weeks
    before it (weeks), so the first period is a whole one."""
    with engine.connect() as connection:
        as_of = default_as_of(connection)
        until = as_utc(until) if until else as_of
        since = as_utc(since) if since else satisfaction.default_since(until, grain)
        if since >= until:
            raise invalid(("query", "since"), "since must be before until", since)
        rows = satisfaction.compute_index(
            connection, grain=grain, by=by, since=since, until=until, as_of=min(as_of, until)
        )
    return IndexOut(
        grain=grain,
        by=by,
        since=since,
        until=until,
        indicators=[IndicatorOut(**d) for d in satisfaction.definitions()],
        rows=[IndexRowOut(**vars(r)) for r in rows],
    )


@api.get("/complaints/categories", response_model=CategoriesOut, summary="Complaint categories")
def complaint_categories(
    engine: EngineDep, since: datetime | None = None, until: datetime | None = None
) -> CategoriesOut:
    """Complaints filed per category, with those still open and the average resolution time.
    The range defaults to the index's monthly range (a year of whole months to the as-of
    moment)."""
    with engine.connect() as connection:
        until = as_utc(until) if until else default_as_of(connection)
        since = as_utc(since) if since else satisfaction.default_since(until, "month")
        if since >= until:
            raise invalid(("query", "since"), "since must be before until", since)
        rows = satisfaction.complaint_categories(connection, since=since, until=until)
    return CategoriesOut(
        since=since, until=until, categories=[CategoryOut(**vars(r)) for r in rows]
    )


# ---------------------------------------------------------------- recompute


@api.post("/recompute", response_model=RecomputeOut, summary="Recompute now")
def recompute(engine: EngineDep) -> RecomputeOut:
    """Recompute tiers, churn risk and the index now (the backend also does it on a schedule)."""
    done = recompute_all(engine)
    return RecomputeOut(
        as_of=done.as_of,
        customers=done.tiers.customers,
        tier_counts=done.tiers.counts,
        tier_changes=done.tiers.changes,
        high_risk=done.at_risk,
        seconds={k: round(v, 3) for k, v in done.seconds.items()},
    )


router.include_router(api)


@router.get("/crm", include_in_schema=False, response_model=None)
def dashboard(
    identity: Annotated[Identity | None, Depends(optional_agent)],
) -> HTMLResponse | RedirectResponse:
    """The managers' dashboard (signed-in managers; others are sent to the console's login)."""
    if identity is None:
        return RedirectResponse("/agent/login?next=/crm", status.HTTP_303_SEE_OTHER)
    if identity.role is not Role.manager:
        return HTMLResponse(
            "<!doctype html><title>Managers only</title><p>The CRM dashboard is for managers. "
            '<a href="/agent">Back to the console</a></p>',
            status_code=status.HTTP_403_FORBIDDEN,
        )
    page = (STATIC_DIR / "crm" / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(
        page, headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
    )
