"""Churn risk: a transparent score with its reasons, the at-risk list, and its
evaluation against what customers actually did. (The monthly relationship sample that
weights toward at-risk customers is backend/surveys/sampling.py.)

Definitions (also in backend/crm/README.md), for a moment `as_of`, over the customers with at
least one shipment in the value window (`window_days`, default 365; customers with none are
already lapsed and are not scored):
- recent shipments: shipped in the last `recent_days` (90);
- expected shipments: the customer's rate before that (shipments from the start of the window,
  or from when the customer joined if later, to `as_of - recent_days`) times `recent_days`;
  not judged when that earlier span is under 30 days;
- usual gap: (last shipment - first shipment) / (shipments - 1) within the window;
- service failures: recent shipments lost or damaged;
- complaints: filed by the customer in the recent period, and open at `as_of` (filed by then,
  not closed by then; backend/crm/signals.py);
- survey answers: post-delivery surveys about the customer's parcels answered in the recent
  period, and how many were unhappy (CSAT 1-2 or NPS 0-6).

Risk score: the chance the customer sends nothing in the next `recent_days`, from a small
"still shipping or gone quiet" model that uses only their own history:
- rate = shipments in the window / days observed (from the window start, or the customer's
  joining date if later, to `as_of`; at least `recent_days`);
- alive = p * exp(-rate * days_since_last) / (p * exp(-rate * days_since_last) + 1 - p), the
  chance they are still shipping after their current silence (prior p = `alive_prior`, 0.9);
- quiet = (1 - alive) + alive * exp(-rate * recent_days);
- risk = 1 - (1 - quiet) * product over the rules frequency, service, complaints and
  satisfaction of (1 - weight * strength), each weight 0.35 by default (`rule_weights`), so
  a customer still shipping but far less than before, whose parcels keep going missing, who
  keeps complaining or whose consignees are unhappy rises too.
High from 0.6, medium from 0.35. The at-risk list is ordered by revenue at risk (risk times
the customer's revenue in the window), so a large customer going quiet comes before a
once-a-year sender.

Reasons, each with a strength from 0 to 1 and a sentence an agent can read out:
- frequency: expected >= 2 and recent < 60 % of expected; strength 1 - recent / expected;
- recency: days since the last shipment > 2 usual gaps and >= 14 days (with a single
  shipment: > recent_days); strength 0.5 at that threshold, 1 at twice it;
- service: at least one failure and failures >= 3 % of recent shipments; strength 0.5 at
  that rate, 1 at twice it;
- complaints: a complaint still open, or recent complaints >= 10 % of recent shipments
  (repeated for their size); strength 0.5 per open complaint plus 0.5 at 10 %, 1 at 20 %;
- satisfaction: at least 3 recent answers and at least half of them unhappy; strength the
  unhappy share.

Suggested action (high and medium risk): "call" when the complaints rule fires (put it right
in person); else "service review" when the service or satisfaction rule fires; else
"discount review" for a customer outside tier A who still ships, but far less (frequency
without recency); else "call" (tier A customers, and customers who have gone quiet).

More signals plug in as further feature queries and rules: FEATURE_QUERIES and RULES.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from backend.complaints.models import ComplaintTicket
from backend.crm import signals
from backend.crm.config import CrmSettings, get_crm_settings
from backend.crm.models import ChurnRisk, CustomerTier, RiskLevel, Tier
from backend.crm.sql import default_as_of, lock_recompute
from backend.store.models import Customer, Shipment, ShipmentStatus, as_utc
from backend.surveys.models import SurveyAnswer, SurveyInvitation

DAY = 86400.0
MIN_EARLIER_DAYS = 30

Features = dict[str, Any]
# A feature query returns rows of (customer_id, feature=value, ...) for the customers it knows.
FeatureQuery = Callable[[Connection, datetime, CrmSettings], Iterable[Features]]


def shipment_features(
    connection: Connection, as_of: datetime, settings: CrmSettings
) -> list[Features]:
    """Per-customer counts and dates from the shipments table (one grouped query)."""
    since = as_of - timedelta(days=settings.window_days)
    recent_from = as_of - timedelta(days=settings.recent_days)
    is_recent = Shipment.shipped_at > recent_from
    failed = or_(Shipment.status == ShipmentStatus.lost, col(Shipment.damaged).is_(True))
    query = (
        select(
            Shipment.customer_id,
            func.count(Shipment.id).label("shipments"),
            func.sum(case((is_recent, 1), else_=0)).label("recent"),
            func.sum(case((is_recent & failed, 1), else_=0)).label("failures"),
            func.min(Shipment.shipped_at).label("first"),
            func.max(Shipment.shipped_at).label("last"),
            func.min(Customer.created_at).label("joined"),
        )
        .join(Customer, col(Customer.id) == Shipment.customer_id)
        .where(Shipment.shipped_at > since, Shipment.shipped_at <= as_of)
        .group_by(Shipment.customer_id)
    )
    rows = []
    for row in connection.execute(query):
        first, last, joined = (as_utc(row.first), as_utc(row.last), as_utc(row.joined))
        earlier = row.shipments - row.recent
        start = max(since, min(joined, first))
        earlier_days = (recent_from - start).total_seconds() / DAY
        expected = (
            earlier * settings.recent_days / earlier_days
            if earlier_days >= MIN_EARLIER_DAYS
            else None
        )
        observed = (as_of - start).total_seconds() / DAY
        rows.append(
            {
                "customer_id": row.customer_id,
                "shipments": row.shipments,
                "rate": row.shipments / max(observed, float(settings.recent_days)),
                "recent": int(row.recent),
                "expected": expected,
                "failures": int(row.failures),
                "days_since_last": (as_of - last).total_seconds() / DAY,
                "usual_gap": (
                    (last - first).total_seconds() / DAY / (row.shipments - 1)
                    if row.shipments > 1
                    else None
                ),
            }
        )
    return rows


def complaint_features(
    connection: Connection, as_of: datetime, settings: CrmSettings
) -> list[Features]:
    """Per customer: complaints filed in the recent period, and complaints open at `as_of`
    (filed by then and not closed by then; backend/crm/signals.py)."""
    recent_from = as_of - timedelta(days=settings.recent_days)
    closed = signals.closures()
    is_open = or_(col(closed.c.closed_at).is_(None), closed.c.closed_at > as_of)
    query = (
        select(
            ComplaintTicket.customer_id,
            func.sum(case((ComplaintTicket.created_at > recent_from, 1), else_=0)).label("recent"),
            func.sum(case((is_open, 1), else_=0)).label("open"),
        )
        .outerjoin(closed, closed.c.ticket_id == ComplaintTicket.id)
        .where(
            col(ComplaintTicket.customer_id).is_not(None),
            ComplaintTicket.created_at <= as_of,
            or_(ComplaintTicket.created_at > recent_from, is_open),
        )
        .group_by(ComplaintTicket.customer_id)
    )
    return [
        {
            "customer_id": row.customer_id,
            "complaints_recent": int(row.recent or 0),
            "complaints_open": int(row.open or 0),
        }
        for row in connection.execute(query)
    ]


def survey_features(
    connection: Connection, as_of: datetime, settings: CrmSettings
) -> list[Features]:
    """Per customer: surveys about their parcels answered in the recent period, and how many
    of those gave a low CSAT (1-2) or a detractor's NPS (0-6)."""
    recent_from = as_of - timedelta(days=settings.recent_days)
    answered = (
        select(
            SurveyAnswer.invitation_id.label("invitation_id"),
            func.max(case((SurveyAnswer.question == "csat", SurveyAnswer.score))).label("csat"),
            func.max(case((SurveyAnswer.question == "nps", SurveyAnswer.score))).label("nps"),
        )
        .where(SurveyAnswer.answered_at > recent_from, SurveyAnswer.answered_at <= as_of)
        .group_by(SurveyAnswer.invitation_id)
        .subquery("recent_answers")
    )
    unhappy = or_(answered.c.csat <= signals.LOW_CSAT, answered.c.nps <= signals.DETRACTOR)
    query = (
        select(
            SurveyInvitation.customer_id,
            func.count().label("answered"),
            func.sum(case((unhappy, 1), else_=0)).label("unhappy"),
        )
        .join(answered, answered.c.invitation_id == SurveyInvitation.id)
        .where(col(SurveyInvitation.customer_id).is_not(None))
        .group_by(SurveyInvitation.customer_id)
    )
    return [
        {
            "customer_id": row.customer_id,
            "surveys_answered": int(row.answered),
            "surveys_unhappy": int(row.unhappy or 0),
        }
        for row in connection.execute(query)
    ]


FEATURE_QUERIES: list[FeatureQuery] = [shipment_features, complaint_features, survey_features]


@dataclass(frozen=True)
class Reason:
    rule: str
    strength: float
    text: str


Rule = Callable[[Features, CrmSettings], Reason | None]


def frequency_rule(f: Features, s: CrmSettings) -> Reason | None:
    expected = f.get("expected")
    if expected is None or expected < s.frequency_min_expected:
        return None
    recent = f["recent"]
    if recent >= s.frequency_drop_below * expected:
        return None
    drop = 1 - recent / expected
    return Reason(
        "frequency",
        drop,
        f"Shipped {recent} time{'s' * (recent != 1)} in the last {s.recent_days} days against "
        f"about {expected:.0f} expected from their earlier rate ({drop:.0%} fewer).",
    )


def recency_rule(f: Features, s: CrmSettings) -> Reason | None:
    days, gap = f["days_since_last"], f.get("usual_gap")
    if gap:
        threshold = max(s.overdue_gaps * gap, float(s.overdue_min_days))
        usual = f"their usual gap is {gap:.0f} day{'s' * (round(gap) != 1)}"
    else:
        threshold = float(s.recent_days)
        usual = "they have shipped only once this year"
    if days <= threshold:
        return None
    return Reason(
        "recency",
        min(1.0, 0.5 * days / threshold),
        f"No shipment for {days:.0f} days; {usual}.",
    )


def service_rule(f: Features, s: CrmSettings) -> Reason | None:
    failures, recent = f.get("failures", 0), f.get("recent", 0)
    if failures < 1:
        return None
    rate = failures / max(recent, 1)
    if rate < s.service_failure_rate:
        return None
    return Reason(
        "service",
        min(1.0, 0.5 * rate / s.service_failure_rate),
        f"{failures} of their {recent} recent parcel{'s' * (recent != 1)} lost or damaged.",
    )


def complaints_rule(f: Features, s: CrmSettings) -> Reason | None:
    still_open, recent = f.get("complaints_open", 0), f.get("complaints_recent", 0)
    # Relative to how much they ship: a large shipper files a complaint every few weeks as a
    # matter of routine, a small one hardly ever.
    share = recent / max(f.get("recent", 0), 1)
    often = recent >= 1 and share >= s.complaint_share
    if not still_open and not often:
        return None
    strength = min(1.0, 0.5 * still_open + (0.5 * share / s.complaint_share if often else 0.0))
    parts = []
    if recent:
        parts.append(
            f"{recent} complaint{'s' * (recent != 1)} in the last {s.recent_days} days "
            f"({share:.0%} of their parcels)"
        )
    if still_open:
        parts.append(f"{still_open} still open")
    return Reason("complaints", strength, "; ".join(parts).capitalize() + ".")


def satisfaction_rule(f: Features, s: CrmSettings) -> Reason | None:
    unhappy, answered = f.get("surveys_unhappy", 0), f.get("surveys_answered", 0)
    # A share of one or two answers says little: 1 of 1 is "100 % unhappy".
    if answered < s.unhappy_min_answers or unhappy / answered < s.unhappy_share:
        return None
    share = unhappy / answered
    return Reason(
        "satisfaction",
        min(1.0, share),
        f"{unhappy} of {answered} recent survey answer{'s' * (answered != 1)} about their "
        "parcels unhappy (CSAT 1-2 or NPS 0-6).",
    )


RULES: dict[str, Rule] = {
    "frequency": frequency_rule,
    "recency": recency_rule,
    "service": service_rule,
    "complaints": complaints_rule,
    "satisfaction": satisfaction_rule,
}
# How much each rule's strength raises the risk (0..1), from the settings.
RULE_WEIGHTS = ("frequency", "service", "complaints", "satisfaction")


@dataclass
class Risk:
    customer_id: int
    score: float
    level: RiskLevel
    reasons: list[Reason] = field(default_factory=list)
    features: Features = field(default_factory=dict)
    action: str | None = None


def quiet_chance(f: Features, settings: CrmSettings, prior: float | None = None) -> float:
    """Chance of no shipment in the next `recent_days` (see the module docstring)."""
    p = settings.alive_prior if prior is None else prior
    rate, silence = f["rate"], f["days_since_last"]
    still = p * math.exp(-rate * silence)
    alive = still / (still + 1 - p)
    return (1 - alive) + alive * math.exp(-rate * settings.recent_days)


def score_features(
    f: Features,
    settings: CrmSettings,
    prior: float | None = None,
    weights: dict[str, float] | None = None,
) -> Risk:
    reasons = [r for rule in RULES.values() if (r := rule(f, settings)) is not None]
    strength = {r.rule: r.strength for r in reasons}
    quiet = quiet_chance(f, settings, prior)
    weights = weights or settings.rule_weights
    stays = 1 - quiet
    for rule in RULE_WEIGHTS:
        stays *= 1 - weights[rule] * strength.get(rule, 0.0)
    score = round(1 - stays, 6)
    level = (
        RiskLevel.high
        if score >= settings.high_risk
        else RiskLevel.medium
        if score >= settings.medium_risk
        else RiskLevel.low
    )
    reasons.sort(key=lambda r: -r.strength)
    if level is not RiskLevel.low and not reasons:
        per_year = f["rate"] * 365
        reasons.append(
            Reason(
                "pattern",
                quiet,
                f"Ships about {per_year:.0f} time{'s' * (round(per_year) != 1)} a year and "
                f"last shipped {f['days_since_last']:.0f} days ago, so a quiet "
                f"{settings.recent_days} days is likely.",
            )
        )
    return Risk(f["customer_id"], score, level, reasons, f)


def suggested_action(risk: Risk, tier: Tier | None) -> str | None:
    if risk.level is RiskLevel.low:
        return None
    rules = {r.rule for r in risk.reasons}
    if "complaints" in rules:
        return "call"  # put the complaint right in person first
    if "service" in rules or "satisfaction" in rules:
        return "service review"
    if tier is not Tier.A and "frequency" in rules and "recency" not in rules:
        return "discount review"
    return "call"


def _features(connection: Connection, as_of: datetime, settings: CrmSettings) -> list[Features]:
    merged: dict[int, Features] = {}
    for query in FEATURE_QUERIES:
        for row in query(connection, as_of, settings):
            merged.setdefault(row["customer_id"], {}).update(row)
    return list(merged.values())


def compute_risks(
    connection: Connection, as_of: datetime, settings: CrmSettings | None = None
) -> list[Risk]:
    settings = settings or get_crm_settings()
    # Only customers the shipment query knows (active in the window) are scored.
    return [
        score_features(f, settings) for f in _features(connection, as_of, settings) if "rate" in f
    ]


def recompute_churn(
    engine: Engine,
    as_of: datetime | None = None,
    settings: CrmSettings | None = None,
    now: datetime | None = None,
) -> list[Risk]:
    settings = settings or get_crm_settings()
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        lock_recompute(connection)
        as_of = as_of or default_as_of(connection)
        risks = compute_risks(connection, as_of, settings)
        tiers = dict(connection.execute(select(CustomerTier.customer_id, CustomerTier.tier)).all())
        rows = []
        for risk in risks:
            risk.action = suggested_action(risk, tiers.get(risk.customer_id))
            f = risk.features
            rows.append(
                {
                    "customer_id": risk.customer_id,
                    "score": risk.score,
                    "level": risk.level,
                    "reasons": [
                        {"rule": r.rule, "strength": round(r.strength, 3), "text": r.text}
                        for r in risk.reasons
                    ],
                    "suggested_action": risk.action,
                    "recent_shipments": f["recent"],
                    "expected_shipments": round(f["expected"] or 0.0, 2),
                    "days_since_last": round(f["days_since_last"], 2),
                    "usual_gap_days": round(f["usual_gap"], 2) if f.get("usual_gap") else None,
                    "computed_at": now,
                }
            )
        connection.execute(delete(ChurnRisk))
        for start in range(0, len(rows), 5000):
            connection.execute(insert(ChurnRisk), rows[start : start + 5000])
    return risks


# ---------------------------------------------------------------- evaluation


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count half); None without both classes."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positive_ranks = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (positive_ranks - positives * (positives + 1) / 2) / (positives * negatives)


PRIORS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
WEIGHT_GRID = (0.0, 0.2, 0.35, 0.5, 0.7, 0.9)
FEEDBACK_RULES = ("complaints", "satisfaction")


@dataclass(frozen=True)
class Evaluation:
    scored_at: datetime
    outcome_until: datetime
    customers: int
    stopped: int
    auc_model: float | None  # the configured prior and rule weights
    auc_recency: float | None  # naive baseline: days since the last shipment
    auc_without_feedback: float | None  # the same score without complaints and surveys
    fitted_prior: float  # the prior that ranked best on the earlier split
    fitted_weights: dict[str, float]  # the rule weights that ranked best there
    auc_fitted: float | None  # the fitted prior and weights, on the held-back months
    high_risk: int
    high_risk_stopped: int


def _split(
    connection: Connection, scored_at: datetime, until: datetime, settings: CrmSettings
) -> tuple[list[Features], list[bool]]:
    features = [f for f in _features(connection, scored_at, settings) if "rate" in f]
    later = set(
        connection.execute(
            select(Shipment.customer_id)
            .where(Shipment.shipped_at > scored_at, Shipment.shipped_at <= until)
            .distinct()
        ).scalars()
    )
    return features, [f["customer_id"] not in later for f in features]


def _scores(
    features: list[Features],
    settings: CrmSettings,
    prior: float | None = None,
    weights: dict[str, float] | None = None,
) -> list[float]:
    return [score_features(f, settings, prior, weights).score for f in features]


def fit(
    features: list[Features], labels: list[bool], settings: CrmSettings
) -> tuple[float, dict[str, float]]:
    """The prior and rule weights that rank `labels` best (AUC), by coordinate search from
    the configured ones over PRIORS and WEIGHT_GRID (two passes)."""
    prior, weights = settings.alive_prior, dict(settings.rule_weights)

    def ranked(p: float, w: dict[str, float]) -> float:
        found = auc(_scores(features, settings, p, w), labels)
        return -1.0 if found is None else found

    best = ranked(prior, weights)
    for _ in range(2):
        for candidate in PRIORS:
            if (value := ranked(candidate, weights)) > best:
                best, prior = value, candidate
        for rule in RULE_WEIGHTS:
            for candidate in WEIGHT_GRID:
                trial = weights | {rule: candidate}
                if (value := ranked(prior, trial)) > best:
                    best, weights = value, trial
    return prior, weights


def evaluate(
    engine: Engine, as_of: datetime | None = None, settings: CrmSettings | None = None
) -> Evaluation:
    """How well the risk ranks the customers who then shipped nothing, with a time split.

    Held-back months: customers active in the window are scored as of `as_of - holdout` and
    labelled "stopped" when they shipped nothing from then to `as_of`. The prior and the rule
    weights are also fitted on the split before (scored at `as_of - 2 * holdout`, outcome up
    to `as_of - holdout`), so the held-back months never inform them. The naive baseline ranks
    by days since the last shipment alone; "without feedback" is the configured score with
    the complaint and survey rules switched off, to show what they add.
    """
    settings = settings or get_crm_settings()
    holdout = timedelta(days=settings.evaluation_holdout_days)
    with engine.connect() as connection:
        as_of = as_of or default_as_of(connection)
        scored_at = as_of - holdout
        fit_features, fit_labels = _split(connection, scored_at - holdout, scored_at, settings)
        features, labels = _split(connection, scored_at, as_of, settings)
    prior, weights = fit(fit_features, fit_labels, settings)
    risks = [score_features(f, settings) for f in features]
    high = [r for r, stopped in zip(risks, labels, strict=True) if r.level is RiskLevel.high]
    stopped_ids = {r.customer_id for r, stopped in zip(risks, labels, strict=True) if stopped}
    no_feedback = settings.rule_weights | {rule: 0.0 for rule in FEEDBACK_RULES}
    return Evaluation(
        scored_at=scored_at,
        outcome_until=as_of,
        customers=len(risks),
        stopped=sum(labels),
        auc_model=auc([r.score for r in risks], labels),
        auc_recency=auc([f["days_since_last"] for f in features], labels),
        auc_without_feedback=auc(_scores(features, settings, None, no_feedback), labels),
        fitted_prior=prior,
        fitted_weights=weights,
        auc_fitted=auc(_scores(features, settings, prior, weights), labels),
        high_risk=len(high),
        high_risk_stopped=sum(r.customer_id in stopped_ids for r in high),
    )


_evaluations: dict[tuple[str, datetime | None, str], Evaluation] = {}
_evaluations_lock = threading.Lock()


def cached_evaluation(engine: Engine, settings: CrmSettings | None = None) -> Evaluation:
    """`evaluate` as of the default moment, kept until the churn risks are recomputed (the
    refit scores every customer about sixty times: seconds on a large store, too slow to
    repeat on every request). Concurrent first requests wait for one computation."""
    settings = settings or get_crm_settings()
    with engine.connect() as connection:
        computed = connection.execute(select(func.max(ChurnRisk.computed_at))).scalar()
    key = (engine.url.render_as_string(), computed, settings.model_dump_json())
    with _evaluations_lock:
        if key not in _evaluations:
            _evaluations.clear()  # only the latest recomputation's evaluation is wanted
            _evaluations[key] = evaluate(engine, settings=settings)
        return _evaluations[key]


# ---------------------------------------------------------------- reading


def at_risk(
    session: Session, min_level: RiskLevel = RiskLevel.medium, limit: int = 200
) -> list[tuple[ChurnRisk, Customer, Tier | None, float]]:
    """Customers at `min_level` or above, by revenue at risk (risk x window revenue)."""
    levels = [RiskLevel.high] if min_level is RiskLevel.high else [RiskLevel.high, RiskLevel.medium]
    if min_level is RiskLevel.low:
        levels.append(RiskLevel.low)
    query = (
        select(ChurnRisk, Customer, CustomerTier.tier, func.coalesce(CustomerTier.revenue, 0.0))
        .join(Customer, col(Customer.id) == ChurnRisk.customer_id)
        .outerjoin(CustomerTier, col(CustomerTier.customer_id) == ChurnRisk.customer_id)
        .where(col(ChurnRisk.level).in_(levels))
        .order_by(
            (ChurnRisk.score * func.coalesce(CustomerTier.revenue, 0.0)).desc(),
            col(ChurnRisk.score).desc(),
            col(ChurnRisk.customer_id),
        )
        .limit(limit)
    )
    return [
        (risk, customer, tier, float(revenue))
        for risk, customer, tier, revenue in session.execute(query)
    ]


def risk_distribution(session: Session, buckets: int = 10) -> list[dict[str, Any]]:
    """Customers per risk band of width 1/buckets (the last band includes 1.0)."""
    # CAST truncates, which is floor for scores >= 0; a score of exactly 1 joins the last band.
    raw = cast(ChurnRisk.score * buckets, Integer)
    band = case((raw >= buckets - 1, buckets - 1), else_=raw)
    counts = dict(session.execute(select(band, func.count()).group_by(band)).all())
    return [
        {
            "band": f"{i / buckets:.1f}–{(i + 1) / buckets:.1f}",
            "low": i / buckets,
            "customers": int(counts.get(i, counts.get(float(i), 0))),
        }
        for i in range(buckets)
    ]
