"""Satisfaction figures from survey answers, by period and service level.

- CSAT: average of the 1-5 answers, and % satisfied (4 or 5).
- NPS: % promoters (9-10) minus % detractors (0-6), from -100 to 100.
- Response rate: invitations with at least one answer / invitations sent (opted-out excluded).
- On-time and good-condition rates: % "yes" among those who answered the question.
Periods are calendar months (or ISO weeks, or days) of the invitation's creation, in UTC.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from backend.store.models import Shipment
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation, SurveyKind

PERIODS = ("month", "week", "day")


def period_key(moment: datetime, period: str) -> str:
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


@dataclass
class _Bucket:
    invited: int = 0
    responded: int = 0
    scores: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def figures(
    session: Session,
    period: str = "month",
    since: datetime | None = None,
    until: datetime | None = None,
    service_level: str | None = None,
    kind: SurveyKind | None = SurveyKind.delivery,
) -> list[dict[str, object]]:
    """One row per (period, service level), oldest first."""
    query = (
        select(SurveyInvitation, Shipment.service_level)
        .join(Shipment, col(Shipment.id) == col(SurveyInvitation.shipment_id), isouter=True)
        .where(SurveyInvitation.status != InvitationStatus.opted_out)
    )
    if kind is not None:
        query = query.where(SurveyInvitation.kind == kind)
    if since is not None:
        query = query.where(col(SurveyInvitation.created_at) >= since)
    if until is not None:
        query = query.where(col(SurveyInvitation.created_at) < until)
    if service_level:
        query = query.where(Shipment.service_level == service_level)
    invitations = session.exec(query).all()
    ids = [inv.id for inv, _ in invitations]
    answers: dict[int, list[SurveyAnswer]] = defaultdict(list)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for answer in session.exec(
            select(SurveyAnswer).where(col(SurveyAnswer.invitation_id).in_(chunk))
        ):
            answers[answer.invitation_id].append(answer)
    buckets: dict[tuple[str, str], _Bucket] = defaultdict(_Bucket)
    for invitation, level in invitations:
        bucket = buckets[(period_key(invitation.created_at, period), str(level or "none"))]
        bucket.invited += 1
        given = answers.get(invitation.id or 0, [])
        if given:
            bucket.responded += 1
        for answer in given:
            if answer.score is not None:
                bucket.scores[answer.question].append(answer.score)
    rows = []
    for (key, level), bucket in sorted(buckets.items()):
        csat, nps = bucket.scores["csat"], bucket.scores["nps"]
        on_time, condition = bucket.scores["on_time"], bucket.scores["condition"]
        promoters = sum(1 for s in nps if s >= 9)
        detractors = sum(1 for s in nps if s <= 6)
        rows.append(
            {
                "period": key,
                "service_level": level,
                "invitations": bucket.invited,
                "responses": bucket.responded,
                "response_rate": _pct(bucket.responded, bucket.invited),
                "csat_answers": len(csat),
                "csat_average": round(sum(csat) / len(csat), 2) if csat else None,
                "csat_satisfied_pct": _pct(sum(1 for s in csat if s >= 4), len(csat)),
                "nps_answers": len(nps),
                "nps": round(_pct(promoters, len(nps)) - _pct(detractors, len(nps)), 1)
                if nps
                else None,
                "on_time_rate": _pct(sum(on_time), len(on_time)),
                "good_condition_rate": _pct(sum(condition), len(condition)),
            }
        )
    return rows
