"""Invitations for deliveries already in the store (the demo seed, or a store that existed
before surveys did). Idempotent: delivered shipments that already have their invitation are
left alone, so it can run on every start.

Invitations are dated at delivery and expire seven days later, so only the last week's are
still open and go to the outbox. Older ones carry simulated answers from about a quarter of
consignees (worse for late or damaged parcels, seeded by the shipment id so the same store
gets the same answers), which gives the figures something to show.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.surveys.invitations import (
    DEFAULT_EXPIRY,
    TOKEN_BYTES,
    message_for,
    normalise_contact,
)
from backend.surveys.models import (
    InvitationStatus,
    OutboxMessage,
    OutboxStatus,
    SurveyAnswer,
    SurveyInvitation,
    SurveyKind,
    SurveyOptOut,
)

BATCH = 5000
RESPONSE_RATE = 0.25


def _simulated_answers(rng: random.Random, shipment: Any, promised_late: bool) -> dict[str, int]:
    mood = rng.gauss(4.2, 0.8) - (1.6 if promised_late else 0) - (2.2 if shipment.damaged else 0)
    csat = max(1, min(5, round(mood)))
    nps = max(0, min(10, round(mood * 2 + rng.gauss(0.3, 1.2))))
    return {
        "csat": csat,
        "on_time": 0 if promised_late else 1,
        "condition": 0 if shipment.damaged else 1,
        "nps": nps,
    }


def invite_delivered_backlog(
    url: str | None = None,
    now: datetime | None = None,
    public_url: str = "http://127.0.0.1:8000",
    echo: Callable[[str], None] = print,
) -> int:
    """Create the missing invitations of delivered shipments; returns how many were made."""
    now = now or datetime.now(UTC)
    began = time.perf_counter()
    engine = get_engine(url)
    with Session(engine) as session:
        invited = select(SurveyInvitation.shipment_id).where(
            SurveyInvitation.kind == SurveyKind.delivery,
            col(SurveyInvitation.shipment_id).is_not(None),
        )
        todo = session.exec(
            select(
                Shipment.id,
                Shipment.customer_id,
                Shipment.consignee_phone,
                Shipment.delivered_at,
                Shipment.promised_date,
                Shipment.damaged,
            )
            .where(
                Shipment.status == ShipmentStatus.delivered,
                col(Shipment.delivered_at).is_not(None),
                col(Shipment.id).not_in(invited),
            )
            .order_by(col(Shipment.id))
        ).all()
        connection = session.connection()
        opted_out = set(session.exec(select(SurveyOptOut.contact)).all())
        invitations: list[dict[str, Any]] = []
        responses: dict[str, dict[str, int]] = {}
        answered_at: dict[str, datetime] = {}
        for row in todo:
            delivered_at = row.delivered_at
            contact = normalise_contact(row.consignee_phone)
            expires = delivered_at + DEFAULT_EXPIRY
            token = secrets.token_urlsafe(TOKEN_BYTES)
            status = InvitationStatus.pending
            rng = random.Random(row.id)
            if contact in opted_out:
                status = InvitationStatus.opted_out
            elif expires <= now and rng.random() < RESPONSE_RATE:
                late = delivered_at.date() > row.promised_date
                responses[token] = _simulated_answers(rng, row, late)
                answered_at[token] = delivered_at + timedelta(hours=2)
                status = InvitationStatus.completed
            invitations.append(
                {
                    "token": token,
                    "kind": SurveyKind.delivery,
                    "dedupe_key": f"delivery:{row.id}",
                    "shipment_id": row.id,
                    "customer_id": row.customer_id,
                    "contact": contact,
                    "status": status,
                    "created_at": delivered_at,
                    "expires_at": expires,
                    "started_at": delivered_at + timedelta(hours=2) if token in responses else None,
                    "completed_at": delivered_at + timedelta(hours=2)
                    if token in responses
                    else None,
                }
            )
        for start in range(0, len(invitations), BATCH):
            connection.execute(insert(SurveyInvitation), invitations[start : start + BATCH])
        answered = [token for token in responses]
        ids: dict[str, int] = {}
        for start in range(0, len(answered), BATCH):
            chunk = answered[start : start + BATCH]
            ids.update(
                session.exec(
                    select(SurveyInvitation.token, SurveyInvitation.id).where(
                        col(SurveyInvitation.token).in_(chunk)
                    )
                ).all()
            )
        answer_rows = [
            {
                "invitation_id": ids[token],
                "question": question,
                "score": score,
                "text": None,
                "skipped": False,
                "answered_at": answered_at[token],
            }
            for token, given in responses.items()
            for question, score in given.items()
        ]
        for start in range(0, len(answer_rows), BATCH):
            connection.execute(insert(SurveyAnswer), answer_rows[start : start + BATCH])
        open_ones = session.exec(
            select(SurveyInvitation, Shipment)
            .join(Shipment, col(Shipment.id) == col(SurveyInvitation.shipment_id))
            .where(
                SurveyInvitation.kind == SurveyKind.delivery,
                SurveyInvitation.status == InvitationStatus.pending,
                col(SurveyInvitation.expires_at) > now,
                col(SurveyInvitation.id).not_in(select(OutboxMessage.invitation_id)),
            )
        ).all()
        messages = []
        for invitation, shipment in open_ones:
            channel, body = message_for(invitation, public_url, shipment=shipment)
            messages.append(
                {
                    "invitation_id": invitation.id,
                    "channel": channel,
                    "recipient": invitation.contact,
                    "body": body,
                    "status": OutboxStatus.pending,
                    "created_at": now,
                }
            )
        if messages:
            connection.execute(insert(OutboxMessage), messages)
        queued = len(messages)
        session.commit()
    if invitations:
        echo(
            f"  surveys    {len(invitations):>9,} invitations ({len(responses):,} answered, "
            f"{queued:,} queued) {time.perf_counter() - began:6.1f} s"
        )
    return len(invitations)
