"""The satisfaction index: indicators per period (week or month), overall, by service level
or by destination region. Each indicator is defined once, here, and used everywhere (API,
dashboard, CSV, benchmark).

An indicator is a ratio of two measures, `value = scale * numerator / denominator`, and each
measure is an aggregate over one source: a subquery with the columns `moment` (what puts a
row in a period), `service_level` and `region`, plus whatever the measures read. Measures
over the same source are computed together in one grouped query, so the index costs one
query per source whatever the number of indicators.

More indicators plug in by registering a source and indicators over it; no query changes
elsewhere. Complaints and survey answers reach a service level and region through their
shipment; those without one are grouped as "unknown".

Shipment indicators (each shipment belongs to the week/month, UTC, in which it was shipped):
- on_time_rate: of shipments whose promised date is before the as-of date, the share
  delivered on or before that date (lost, returned or still travelling count as late);
- completion_rate: of shipments whose journey has ended or turned back (delivered,
  returning, returned, lost), the share delivered to the consignee;
- damage_rate: share of shipments with damage reported;
- loss_rate: share of shipments declared lost (a loss is declared about ten working days after
  the promised date, so the latest weeks read low until then).

Complaint indicators (backend/crm/signals.py says when a complaint is closed):
- complaint_rate: complaints filed in the period per 1,000 shipments shipped in it;
- resolution_hours: of complaints closed (resolved or rejected) in the period, the average
  hours from filing to closing;
- sla_compliance: of complaints whose answer deadline fell in the period (and has passed),
  the share closed by that deadline (still open past it counts as missed).

Survey indicators (post-delivery surveys; each invitation belongs to the period in which it
was sent; opted-out contacts are not counted):
- csat: of CSAT answers (1-5), the share satisfied (4 or 5);
- nps: % promoters (9-10) minus % detractors (0-6) among NPS answers, -100..100;
- response_rate: of invitations sent, the share with at least one answer (links stay open
  seven days, so the latest week reads low until then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, String, Subquery, and_, case, func, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import col

from backend.complaints.models import Category, ComplaintTicket
from backend.crm import signals
from backend.crm.config import CrmSettings, get_crm_settings
from backend.crm.sql import Grain, hours_between, utc_date
from backend.store.models import Shipment, ShipmentStatus
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation, SurveyKind

By = Literal["none", "service_level", "region"]
ALL = "all"


@dataclass(frozen=True)
class Context:
    dialect: str
    since: datetime
    until: datetime
    as_of: datetime
    split: bool = False  # sources reach their shipment only when split by its columns


SourceBuilder = Callable[[Context], Subquery]
Expression = Callable[[Subquery, Context], ColumnElement[Any]]


@dataclass(frozen=True)
class Measure:
    source: str
    expression: Expression


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    unit: Literal["share", "per_1000", "hours", "score"]
    better: Literal["higher", "lower"]
    definition: str
    numerator: Measure
    denominator: Measure
    scale: float = 1.0


SOURCES: dict[str, SourceBuilder] = {}
INDICATORS: dict[str, Indicator] = {}


def register_source(name: str, builder: SourceBuilder) -> None:
    SOURCES[name] = builder


def register(indicator: Indicator) -> Indicator:
    INDICATORS[indicator.key] = indicator
    return indicator


# ---------------------------------------------------------------- shipments


def shipments_source(ctx: Context) -> Subquery:
    return (
        select(
            Shipment.shipped_at.label("moment"),
            Shipment.service_level.label("service_level"),
            Shipment.destination_region.label("region"),
            Shipment.status.label("status"),
            Shipment.damaged.label("damaged"),
            Shipment.promised_date.label("promised_date"),
            utc_date(ctx.dialect, Shipment.delivered_at).label("delivered_date"),
        )
        .where(Shipment.shipped_at >= ctx.since, Shipment.shipped_at < ctx.until)
        .subquery("shipments_source")
    )


def _count_if(condition: Any) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _due(t: Subquery, ctx: Context) -> ColumnElement[Any]:
    return t.c.promised_date < literal(ctx.as_of.astimezone(UTC).date())


ENDED = (
    ShipmentStatus.delivered,
    ShipmentStatus.returning,
    ShipmentStatus.returned,
    ShipmentStatus.lost,
)
SHIPMENTS = Measure("shipments", lambda t, ctx: func.count())

register_source("shipments", shipments_source)
register(
    Indicator(
        key="on_time_rate",
        label="On-time delivery",
        unit="share",
        better="higher",
        definition="Of shipments whose promised date has passed, the share delivered on or "
        "before it.",
        numerator=Measure(
            "shipments",
            lambda t, ctx: _count_if(and_(_due(t, ctx), t.c.delivered_date <= t.c.promised_date)),
        ),
        denominator=Measure("shipments", lambda t, ctx: _count_if(_due(t, ctx))),
    )
)
register(
    Indicator(
        key="completion_rate",
        label="Order completion",
        unit="share",
        better="higher",
        definition="Of shipments whose journey has ended or turned back (delivered, "
        "returning, returned, lost), the share delivered to the consignee.",
        numerator=Measure(
            "shipments", lambda t, ctx: _count_if(t.c.status == ShipmentStatus.delivered)
        ),
        denominator=Measure("shipments", lambda t, ctx: _count_if(t.c.status.in_(ENDED))),
    )
)
register(
    Indicator(
        key="damage_rate",
        label="Damage rate",
        unit="share",
        better="lower",
        definition="Share of shipments with damage reported.",
        numerator=Measure("shipments", lambda t, ctx: _count_if(t.c.damaged.is_(True))),
        denominator=SHIPMENTS,
    )
)
register(
    Indicator(
        key="loss_rate",
        label="Loss rate",
        unit="share",
        better="lower",
        definition="Share of shipments declared lost.",
        numerator=Measure("shipments", lambda t, ctx: _count_if(t.c.status == ShipmentStatus.lost)),
        denominator=SHIPMENTS,
    )
)


# ---------------------------------------------------------------- complaints and surveys

UNKNOWN = "unknown"


def _groups(ctx: Context) -> list[ColumnElement[Any]]:
    """The service level and region of a row's shipment as text ("unknown" with none), or
    constants when the index is not split by them (no join needed)."""
    if not ctx.split:
        return [literal(ALL).label("service_level"), literal(ALL).label("region")]
    return [
        func.coalesce(sql_cast(column, String), UNKNOWN).label(name)
        for column, name in (
            (Shipment.service_level, "service_level"),
            (Shipment.destination_region, "region"),
        )
    ]


def _join_shipment(query: Select[Any], ctx: Context, shipment_id: Any) -> Select[Any]:
    if not ctx.split:
        return query
    return query.outerjoin(Shipment, col(Shipment.id) == shipment_id)


def complaints_source(ctx: Context) -> Subquery:
    """Complaints by the moment they were filed."""
    query = select(
        ComplaintTicket.created_at.label("moment"),
        *_groups(ctx),
    ).where(ComplaintTicket.created_at >= ctx.since, ComplaintTicket.created_at < ctx.until)
    return _join_shipment(query, ctx, ComplaintTicket.shipment_id).subquery("complaints_source")


def closed_complaints_source(ctx: Context) -> Subquery:
    """Complaints by the moment they were closed, with the hours it took."""
    closed = signals.closures()
    query = (
        select(
            closed.c.closed_at.label("moment"),
            *_groups(ctx),
            hours_between(ctx.dialect, ComplaintTicket.created_at, closed.c.closed_at).label(
                "hours"
            ),
        )
        .join(closed, closed.c.ticket_id == ComplaintTicket.id)
        .where(
            col(ComplaintTicket.status).in_(signals.CLOSED),
            closed.c.closed_at >= ctx.since,
            closed.c.closed_at < ctx.until,
        )
    )
    return _join_shipment(query, ctx, ComplaintTicket.shipment_id).subquery(
        "closed_complaints_source"
    )


def due_complaints_source(ctx: Context) -> Subquery:
    """Complaints by their answer deadline (deadlines passed by the as-of moment only)."""
    closed = signals.closures()
    in_time = and_(
        col(ComplaintTicket.status).in_(signals.CLOSED),
        closed.c.closed_at <= ComplaintTicket.sla_due_at,
    )
    query = (
        select(
            ComplaintTicket.sla_due_at.label("moment"),
            *_groups(ctx),
            case((in_time, 1), else_=0).label("in_time"),
        )
        .outerjoin(closed, closed.c.ticket_id == ComplaintTicket.id)
        .where(
            ComplaintTicket.sla_due_at >= ctx.since,
            ComplaintTicket.sla_due_at < ctx.until,
            ComplaintTicket.sla_due_at <= ctx.as_of,
        )
    )
    return _join_shipment(query, ctx, ComplaintTicket.shipment_id).subquery("due_complaints_source")


def surveys_source(ctx: Context) -> Subquery:
    """Post-delivery survey invitations by the moment they were sent, with their answers
    (index look-ups on the (invitation, question) key rather than grouping every answer)."""
    csat, nps = aliased(SurveyAnswer, name="csat_answer"), aliased(SurveyAnswer, name="nps_answer")
    responded = (
        select(SurveyAnswer.id).where(SurveyAnswer.invitation_id == SurveyInvitation.id).exists()
    )
    query = (
        select(
            SurveyInvitation.created_at.label("moment"),
            *_groups(ctx),
            case((responded, 1), else_=0).label("responded"),
            csat.score.label("csat"),
            nps.score.label("nps"),
        )
        .outerjoin(csat, and_(csat.invitation_id == SurveyInvitation.id, csat.question == "csat"))
        .outerjoin(nps, and_(nps.invitation_id == SurveyInvitation.id, nps.question == "nps"))
        .where(
            SurveyInvitation.kind == SurveyKind.delivery,
            SurveyInvitation.status != InvitationStatus.opted_out,
            SurveyInvitation.created_at >= ctx.since,
            SurveyInvitation.created_at < ctx.until,
        )
    )
    return _join_shipment(query, ctx, SurveyInvitation.shipment_id).subquery("surveys_source")


register_source("complaints", complaints_source)
register_source("closed_complaints", closed_complaints_source)
register_source("due_complaints", due_complaints_source)
register_source("surveys", surveys_source)
register(
    Indicator(
        key="complaint_rate",
        label="Complaints per 1,000 shipments",
        unit="per_1000",
        better="lower",
        definition="Complaints filed in the period per 1,000 shipments shipped in it.",
        numerator=Measure("complaints", lambda t, ctx: func.count()),
        denominator=SHIPMENTS,
        scale=1000.0,
    )
)
register(
    Indicator(
        key="resolution_hours",
        label="Complaint resolution time",
        unit="hours",
        better="lower",
        definition="Of complaints closed (resolved or rejected) in the period, the average "
        "hours from filing to closing.",
        numerator=Measure("closed_complaints", lambda t, ctx: func.sum(t.c.hours)),
        denominator=Measure("closed_complaints", lambda t, ctx: func.count()),
    )
)
register(
    Indicator(
        key="sla_compliance",
        label="Complaint SLA compliance",
        unit="share",
        better="higher",
        definition="Of complaints whose answer deadline fell in the period and has passed, "
        "the share closed by the deadline.",
        numerator=Measure("due_complaints", lambda t, ctx: func.sum(t.c.in_time)),
        denominator=Measure("due_complaints", lambda t, ctx: func.count()),
    )
)
register(
    Indicator(
        key="csat",
        label="CSAT (satisfied)",
        unit="share",
        better="higher",
        definition="Of post-delivery CSAT answers (1-5) to surveys sent in the period, the "
        "share of 4 and 5.",
        numerator=Measure("surveys", lambda t, ctx: _count_if(t.c.csat >= 4)),
        denominator=Measure("surveys", lambda t, ctx: func.count(t.c.csat)),
    )
)
register(
    Indicator(
        key="nps",
        label="Net Promoter Score",
        unit="score",
        better="higher",
        definition="Of 'would you recommend us' answers (0-10) to surveys sent in the period, "
        "% promoters (9-10) minus % detractors (0-6).",
        numerator=Measure(
            "surveys",
            lambda t, ctx: func.sum(
                case(
                    (t.c.nps >= signals.PROMOTER, 1),
                    (t.c.nps <= signals.DETRACTOR, -1),
                    else_=0,
                )
            ),
        ),
        denominator=Measure("surveys", lambda t, ctx: func.count(t.c.nps)),
        scale=100.0,
    )
)
register(
    Indicator(
        key="response_rate",
        label="Survey response rate",
        unit="share",
        better="higher",
        definition="Of post-delivery surveys sent in the period (opted-out contacts aside), "
        "the share with at least one answer.",
        numerator=Measure("surveys", lambda t, ctx: func.sum(t.c.responded)),
        denominator=Measure("surveys", lambda t, ctx: func.count()),
    )
)


# ---------------------------------------------------------------- computing


@dataclass(frozen=True)
class IndexRow:
    period: str
    group: str
    indicator: str
    numerator: float
    denominator: float
    value: float | None


def periods(since: datetime, until: datetime, grain: Grain) -> list[str]:
    """Every period label from the one holding `since` to the one holding `until` (exclusive)."""
    first = since.astimezone(UTC).date()
    last = (until.astimezone(UTC) - timedelta(microseconds=1)).date()
    labels: list[str] = []
    if grain == "week":
        day = first - timedelta(days=first.weekday())
        while day <= last:
            labels.append(day.isoformat())
            day += timedelta(days=7)
    else:
        month = date(first.year, first.month, 1)
        while month <= last:
            labels.append(f"{month:%Y-%m}")
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return labels


def default_since(until: datetime, grain: Grain) -> datetime:
    """Start of the month twelve months before `until`, or of the week 26 weeks before it."""
    day = until.astimezone(UTC).date()
    if grain == "week":
        start = day - timedelta(days=day.weekday() + 26 * 7)
    else:
        start = date(day.year - 1, day.month, 1)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


@dataclass(frozen=True)
class Totals:
    """Every measure summed per UTC day, service level and region: one grouped scan per
    source, from which any grain and grouping over the same range is rolled up."""

    since: datetime
    until: datetime
    split: bool  # cells carry their service level and region (else both are ALL)
    indicators: list[Indicator]
    cells: dict[tuple[date, str, str], dict[str, Any]]


def collect(
    connection: Connection,
    *,
    since: datetime,
    until: datetime,
    as_of: datetime | None = None,
    keys: list[str] | None = None,
    split: bool = True,
) -> Totals:
    """Sum every measure of the chosen indicators over [since, until) per day (and, when
    `split`, per service level and region). Every measure is a sum or a count, so sums per
    day add up to sums per week or month exactly."""
    ctx = Context(connection.dialect.name, since, until, as_of or until, split)
    chosen = [INDICATORS[key] for key in (keys or INDICATORS)]
    measures: dict[str, list[tuple[str, Measure]]] = {}
    for indicator in chosen:
        for side, measure in (("n", indicator.numerator), ("d", indicator.denominator)):
            measures.setdefault(measure.source, []).append((f"{indicator.key}:{side}", measure))
    cells: dict[tuple[date, str, str], dict[str, Any]] = {}
    for source_name, items in measures.items():
        t = SOURCES[source_name](ctx)
        day = utc_date(ctx.dialect, t.c.moment).label("day")
        groups = [t.c.service_level, t.c.region] if split else []
        columns = [m.expression(t, ctx).label(f"m{i}") for i, (_, m) in enumerate(items)]
        query = select(day, *groups, *columns).group_by(day, *groups)
        width = 1 + len(groups)
        for row in connection.execute(query):
            moment = row[0] if isinstance(row[0], date) else date.fromisoformat(row[0])
            level, region = (str(row[1]), str(row[2])) if split else (ALL, ALL)
            values = cells.setdefault((moment, level, region), {})
            for i, (name, _) in enumerate(items):
                values[name] = row[width + i] or 0
    return Totals(since, until, split, chosen, cells)


def period_label(day: date, grain: Grain) -> str:
    """The week (its Monday, 'YYYY-MM-DD') or month ('YYYY-MM') holding a UTC day."""
    if grain == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return f"{day:%Y-%m}"


def roll_up(totals: Totals, *, grain: Grain = "month", by: By = "none") -> list[IndexRow]:
    """Every indicator for every period of the range and every group seen, from day totals.

    Periods and groups with no data are returned too, with value None (never 0).
    """
    if by != "none" and not totals.split:
        raise ValueError("totals collected without service level and region")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    groups: set[str] = set()
    for (day, level, region), values in totals.cells.items():
        group = {"none": ALL, "service_level": level, "region": region}[by]
        groups.add(group)
        summed = found.setdefault((period_label(day, grain), group), {})
        for name, value in values.items():
            summed[name] = summed.get(name, 0) + value
    if by == "none":
        groups = {ALL}
    rows = []
    for label in periods(totals.since, totals.until, grain):
        for group_name in sorted(groups):
            values = found.get((label, group_name), {})
            for indicator in totals.indicators:
                n = float(values.get(f"{indicator.key}:n", 0))
                d = float(values.get(f"{indicator.key}:d", 0))
                value = indicator.scale * n / d if d else None
                rows.append(IndexRow(label, group_name, indicator.key, n, d, value))
    return rows


def compute_index(
    connection: Connection,
    *,
    grain: Grain = "month",
    by: By = "none",
    since: datetime,
    until: datetime,
    as_of: datetime | None = None,
    keys: list[str] | None = None,
) -> list[IndexRow]:
    """Every requested indicator for every period in [since, until) and every group seen
    (one grain and grouping; `collect` once and `roll_up` for several)."""
    totals = collect(
        connection, since=since, until=until, as_of=as_of, keys=keys, split=by != "none"
    )
    return roll_up(totals, grain=grain, by=by)


def definitions(settings: CrmSettings | None = None) -> list[dict[str, Any]]:
    settings = settings or get_crm_settings()
    return [
        {
            "key": i.key,
            "label": i.label,
            "unit": i.unit,
            "better": i.better,
            "target": settings.targets.get(i.key),
            "definition": i.definition,
        }
        for i in INDICATORS.values()
    ]


@dataclass(frozen=True)
class CategoryRow:
    category: str
    complaints: int
    share: float | None
    still_open: int
    closed: int
    resolution_hours: float | None


def complaint_categories(
    connection: Connection, *, since: datetime, until: datetime
) -> list[CategoryRow]:
    """Complaints filed in [since, until) per category (every category listed, most first),
    with how many are still open and the average resolution time of those closed (the
    `resolution_hours` definition above)."""
    closed = signals.closures()
    is_closed = col(ComplaintTicket.status).in_(signals.CLOSED)
    hours = hours_between(connection.dialect.name, ComplaintTicket.created_at, closed.c.closed_at)
    query = (
        select(
            ComplaintTicket.category,
            func.count(),
            _count_if(~is_closed),
            _count_if(is_closed),
            func.sum(case((is_closed, hours))),
        )
        .outerjoin(closed, closed.c.ticket_id == ComplaintTicket.id)
        .where(ComplaintTicket.created_at >= since, ComplaintTicket.created_at < until)
        .group_by(ComplaintTicket.category)
    )
    found = {str(row[0]): row for row in connection.execute(query)}
    total = sum(int(row[1]) for row in found.values())
    rows = []
    for category in Category:
        row = found.get(category.value)
        count, still_open, done, spent = (
            (int(row[1]), int(row[2] or 0), int(row[3] or 0), row[4]) if row else (0, 0, 0, None)
        )
        rows.append(
            CategoryRow(
                category=category.value,
                complaints=count,
                share=count / total if total else None,
                still_open=still_open,
                closed=done,
                resolution_hours=float(spent) / done if done and spent is not None else None,
            )
        )
    rows.sort(key=lambda r: -r.complaints)
    return rows
