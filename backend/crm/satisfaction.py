"""The satisfaction index: indicators per period (week or month), overall, by service level
or by destination region. Each indicator is defined once, here, and used everywhere (API,
dashboard, CSV, benchmark).

An indicator is a ratio of two measures, `value = scale * numerator / denominator`, and each
measure is an aggregate over one source: a subquery with the columns `moment` (what puts a
row in a period), `service_level` and `region`, plus whatever the measures read. Measures
over the same source are computed together in one grouped query, so the index costs one
query per source whatever the number of indicators.

More indicators plug in by registering a source (for example complaints joined to their
shipment, or survey answers) and indicators over it: complaint rate per 1,000 shipments is a
complaint count over the shipments source's count; CSAT an average score; NPS
(promoters - detractors) / answers * 100. No query changes elsewhere.

Shipment indicators (each shipment belongs to the week/month, UTC, in which it was shipped):
- on_time_rate: of shipments whose promised date is before the as-of date, the share
  delivered on or before that date (lost, returned or still travelling count as late);
- completion_rate: of shipments whose journey has ended or turned back (delivered,
  returning, returned, lost), the share delivered to the consignee;
- damage_rate: share of shipments with damage reported;
- loss_rate: share of shipments declared lost (a loss is declared about ten working days after
  the promised date, so the latest weeks read low until then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, select
from sqlalchemy.engine import Connection

from backend.crm.config import CrmSettings, get_crm_settings
from backend.crm.sql import Grain, period_key, utc_date
from backend.store.models import Shipment, ShipmentStatus

By = Literal["none", "service_level", "region"]
ALL = "all"


@dataclass(frozen=True)
class Context:
    dialect: str
    since: datetime
    until: datetime
    as_of: datetime


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
    """Every requested indicator for every period in [since, until) and every group seen.

    Periods and groups with no data are returned too, with value None (never 0).
    """
    ctx = Context(connection.dialect.name, since, until, as_of or until)
    chosen = [INDICATORS[key] for key in (keys or INDICATORS)]
    measures: dict[str, list[tuple[str, Measure]]] = {}
    for indicator in chosen:
        for side, measure in (("n", indicator.numerator), ("d", indicator.denominator)):
            measures.setdefault(measure.source, []).append((f"{indicator.key}:{side}", measure))
    found: dict[tuple[str, str], dict[str, float]] = {}
    groups: set[str] = set()
    for source_name, items in measures.items():
        t = SOURCES[source_name](ctx)
        period = period_key(ctx.dialect, t.c.moment, grain).label("period")
        group = (literal(ALL) if by == "none" else t.c[by]).label("grp")
        columns = [m.expression(t, ctx).label(f"m{i}") for i, (_, m) in enumerate(items)]
        query = select(period, group, *columns).group_by(period, group)
        for row in connection.execute(query):
            key = (str(row.period), str(row.grp))
            groups.add(key[1])
            values = found.setdefault(key, {})
            for i, (name, _) in enumerate(items):
                values[name] = float(row[i + 2] or 0)
    if by == "none":
        groups = {ALL}
    rows = []
    for label in periods(since, until, grain):
        for group_name in sorted(groups):
            values = found.get((label, group_name), {})
            for indicator in chosen:
                n = values.get(f"{indicator.key}:n", 0.0)
                d = values.get(f"{indicator.key}:d", 0.0)
                value = indicator.scale * n / d if d else None
                rows.append(IndexRow(label, group_name, indicator.key, n, d, value))
    return rows


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
