"""The satisfaction index (one scan per source by day, rolled up) equals a straightforward
computation of every definition in Python, row by row, on a small seeded store with its
complaint history and survey answers (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from backend.complaints.models import ComplaintEvent, ComplaintTicket
from backend.crm import signals
from backend.crm.recompute import INDEX_VIEWS
from backend.crm.satisfaction import (
    ENDED,
    INDICATORS,
    IndexRow,
    Totals,
    collect,
    compute_index,
    periods,
    roll_up,
)
from backend.crm.sql import Grain
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.store.seed import seed_database
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation, SurveyKind

ANCHOR = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)
SINCE = ANCHOR - timedelta(days=365)

Row = tuple[datetime, str, str, dict[str, float]]  # moment, level, region, measures


def label(moment: datetime, grain: Grain) -> str:
    day = moment.astimezone(UTC).date()
    if grain == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return f"{day:%Y-%m}"


def reference_rows(connection: Connection, as_of: datetime) -> list[Row]:
    """Every shipment, complaint and invitation in the range with what it adds to each
    measure, read from the tables one row at a time."""
    shipments = {s.id: s for s in connection.execute(select(Shipment))}
    due_day = as_of.astimezone(UTC).date()

    def groups(shipment_id: int | None) -> tuple[str, str]:
        shipment = shipments.get(shipment_id) if shipment_id is not None else None
        if shipment is None:
            return "unknown", "unknown"
        return str(shipment.service_level), shipment.destination_region

    def in_range(moment: datetime | None) -> bool:
        return moment is not None and SINCE <= moment < as_of

    rows: list[Row] = []
    for s in shipments.values():
        if not in_range(s.shipped_at):
            continue
        due = s.promised_date < due_day
        delivered_day = s.delivered_at.astimezone(UTC).date() if s.delivered_at else None
        on_time = due and delivered_day is not None and delivered_day <= s.promised_date
        measures = {
            "on_time_rate:n": float(on_time),
            "on_time_rate:d": float(due),
            "completion_rate:n": float(s.status == ShipmentStatus.delivered),
            "completion_rate:d": float(s.status in ENDED),
            "damage_rate:n": float(bool(s.damaged)),
            "damage_rate:d": 1.0,
            "loss_rate:n": float(s.status == ShipmentStatus.lost),
            "loss_rate:d": 1.0,
            "complaint_rate:d": 1.0,
        }
        rows.append((s.shipped_at, str(s.service_level), s.destination_region, measures))

    closed_at: dict[int, datetime] = {}
    for event in connection.execute(select(ComplaintEvent)):
        if event.to_status in signals.CLOSED:
            previous = closed_at.get(event.ticket_id)
            closed_at[event.ticket_id] = max(previous or event.occurred_at, event.occurred_at)
    for ticket in connection.execute(select(ComplaintTicket)):
        level, region = groups(ticket.shipment_id)
        if in_range(ticket.created_at):
            rows.append((ticket.created_at, level, region, {"complaint_rate:n": 1.0}))
        closed = closed_at.get(ticket.id)
        is_closed = ticket.status in signals.CLOSED and closed is not None
        if is_closed and in_range(closed):
            hours = (closed - ticket.created_at).total_seconds() / 3600
            rows.append(
                (closed, level, region, {"resolution_hours:n": hours, "resolution_hours:d": 1.0})
            )
        if in_range(ticket.sla_due_at) and ticket.sla_due_at <= as_of:
            in_time = is_closed and closed <= ticket.sla_due_at
            measures = {"sla_compliance:n": float(in_time), "sla_compliance:d": 1.0}
            rows.append((ticket.sla_due_at, level, region, measures))

    answers: dict[int, dict[str, int | None]] = defaultdict(dict)
    for answer in connection.execute(select(SurveyAnswer)):
        answers[answer.invitation_id][answer.question] = answer.score
    for invitation in connection.execute(select(SurveyInvitation)):
        if (
            invitation.kind != SurveyKind.delivery
            or invitation.status == InvitationStatus.opted_out
            or not in_range(invitation.created_at)
        ):
            continue
        given = answers.get(invitation.id, {})
        csat, nps = given.get("csat"), given.get("nps")
        measures = {
            "response_rate:n": float(bool(given)),
            "response_rate:d": 1.0,
            "csat:n": float(csat is not None and csat >= 4),
            "csat:d": float(csat is not None),
            "nps:n": 0.0
            if nps is None
            else float(nps >= signals.PROMOTER) - float(nps <= signals.DETRACTOR),
            "nps:d": float(nps is not None),
        }
        level, region = groups(invitation.shipment_id)
        rows.append((invitation.created_at, level, region, measures))
    return rows


def reference_index(rows: list[Row], grain: Grain, by: str, as_of: datetime) -> list[IndexRow]:
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    groups: set[str] = {"all"}
    for moment, level, region, measures in rows:
        group = {"none": "all", "service_level": level, "region": region}[by]
        groups.add(group)
        for name, value in measures.items():
            sums[label(moment, grain), group][name] += value
    if by != "none":
        groups.discard("all")
    expected = []
    for period in periods(SINCE, as_of, grain):
        for group in sorted(groups):
            for indicator in INDICATORS.values():
                n = sums[period, group][f"{indicator.key}:n"]
                d = sums[period, group][f"{indicator.key}:d"]
                value = indicator.scale * n / d if d else None
                expected.append(IndexRow(period, group, indicator.key, n, d, value))
    return expected


def approx(rows: list[IndexRow]) -> list[tuple[Any, ...]]:
    # Hours are sums of floats, added in another order; everything else is a count.
    return [
        (r.period, r.group, r.indicator, pytest.approx(r.numerator), r.denominator)
        + (None if r.value is None else pytest.approx(r.value),)
        for r in rows
    ]


def plain(rows: list[IndexRow]) -> list[tuple[Any, ...]]:
    return [(r.period, r.group, r.indicator, r.numerator, r.denominator, r.value) for r in rows]


def test_index_equals_a_row_by_row_reference(store_url: str) -> None:
    seed_database(
        store_url,
        customers=40,
        shipments=1500,
        seed=11,
        anchor=ANCHOR,
        complaints=True,
        echo=lambda _line: None,
    )
    with get_engine(store_url).connect() as connection:
        rows = reference_rows(connection, ANCHOR)
        totals = collect(connection, since=SINCE, until=ANCHOR, as_of=ANCHOR)
        # The seed gives every source something to count, so the comparison is not empty.
        assert {name.split(":")[0] for *_, m in rows for name in m} == set(INDICATORS)
        for grain, by in INDEX_VIEWS + (("week", "region"),):
            expected = reference_index(rows, grain, by, ANCHOR)
            assert approx(roll_up(totals, grain=grain, by=by)) == plain(expected)
            alone = compute_index(connection, grain=grain, by=by, since=SINCE, until=ANCHOR)
            assert approx(alone) == plain(expected)
        assert sum(r.denominator for r in expected if r.indicator == "csat") > 0


def test_roll_up_refuses_a_split_the_totals_lack() -> None:
    totals = Totals(SINCE, ANCHOR, False, list(INDICATORS.values()), {})
    with pytest.raises(ValueError):
        roll_up(totals, grain="month", by="region")
