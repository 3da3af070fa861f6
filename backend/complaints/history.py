"""A year of complaint history for a seeded demo store, so the complaint indicators, the
categories chart and the churn signals have something to show.

Who complains, drawn per shipment (seeded, so the same store gets the same history):
- a lost parcel: 70 % of senders, about a day after it was declared lost, claiming its
  declared value; a damaged one: 55 %, the day it came back or was delivered;
- a late delivery: 6 %, within a day of the delivery; a parcel returned after failed
  attempts: 20 % (wrong address / misdelivery);
- and, whatever happened, 0.2 % billing, 0.1 % courier conduct and 0.1 % other complaints,
  1 to 20 days after shipping.
Each ticket gets the tiered SLA of backend/complaints/sla.py from the sender's value tier
at the anchor. Agents close a ticket after a time that is lognormal around 50 % of its SLA
(about 8 % miss it); 88 % are resolved (losses and damage with the claim paid), the rest
rejected. Tickets that would close after the anchor are still open (half of them in
progress). The example parcels the seed prints are left alone, so they behave as fresh
parcels do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import col

from backend.complaints.models import (
    CallbackChannel,
    Category,
    ComplaintEvent,
    ComplaintTicket,
    TicketEventKind,
    TicketStatus,
)
from backend.complaints.service import format_reference
from backend.complaints.sla import terms_for
from backend.crm.models import Tier
from backend.crm.tiers import assign_tiers, compute_scores
from backend.store.models import Customer, Shipment, ShipmentStatus

CHANCE = {"lost": 0.70, "damaged": 0.55, "late": 0.06, "returned": 0.20}
BACKGROUND = ((Category.billing, 0.002), (Category.courier_conduct, 0.001), (Category.other, 0.001))
RESOLVED_SHARE = 0.88
AGENTS = ("Priya Shah", "Tom Whitaker", "Grace Okafor", "Daniel Hughes")
WORDS = {
    Category.lost: "The parcel never arrived and you have now told us it is lost.",
    Category.damaged: "The parcel arrived damaged; the contents are broken.",
    Category.late_delivery: "The parcel was delivered late and our customer was let down.",
    Category.misdelivery: "The parcel came back to us although the address was right.",
    Category.billing: "We were charged more than the quoted price for this parcel.",
    Category.courier_conduct: "The driver was rude to our customer at the door.",
    Category.other: "We would like someone to call us about this parcel.",
}
BATCH = 5000


def seed_complaint_history(
    connection: Connection, anchor: datetime, seed: int, exclude: Collection[str] = ()
) -> int:
    """Add the history to a freshly seeded store; returns the number of tickets."""
    rng = random.Random(f"complaints-{seed}")
    tiers = assign_tiers(compute_scores(connection, anchor))
    emails = dict(connection.execute(select(Customer.id, Customer.email)).all())
    shipments = connection.execute(
        select(
            Shipment.id,
            Shipment.tracking_number,
            Shipment.customer_id,
            Shipment.status,
            Shipment.damaged,
            Shipment.shipped_at,
            Shipment.delivered_at,
            Shipment.promised_date,
            Shipment.declared_value,
            Shipment.updated_at,
        ).order_by(col(Shipment.id))
    ).all()
    tickets: list[dict[str, Any]] = []
    closings: dict[str, tuple[datetime | None, TicketStatus, str]] = {}
    for row in shipments:
        if row.tracking_number in exclude:
            continue
        for category, filed, claim in _complaints(rng, row):
            if filed > anchor:
                continue
            tier = tiers.get(row.customer_id, Tier.C)
            terms = terms_for(tier, category, claim)
            key = f"seed:{row.id}:{category.value}"
            hours = terms.hours * math.exp(rng.gauss(math.log(0.5), 0.5))
            closed: datetime | None = filed + timedelta(hours=hours)
            status = TicketStatus.resolved
            if closed > anchor:
                closed = None
                status = TicketStatus.in_progress if rng.random() < 0.5 else TicketStatus.open
            elif rng.random() > RESOLVED_SHARE:
                status = TicketStatus.rejected
            agent = rng.choice(AGENTS)
            closings[key] = (closed, status, agent)
            tickets.append(
                {
                    "customer_id": row.customer_id,
                    "shipment_id": row.id,
                    "category": category,
                    "description": WORDS[category],
                    "claimed_amount": claim,
                    "has_photos": category is Category.damaged or None,
                    "callback_channel": CallbackChannel.email,
                    "contact": emails.get(row.customer_id, ""),
                    "tier": tier,
                    "priority": terms.priority,
                    "queue": terms.queue,
                    "owner": None if status is TicketStatus.open else agent,
                    "status": status,
                    "sla_due_at": terms.due(filed),
                    "conversation_id": key,
                    "compensation": claim
                    if status is TicketStatus.resolved and claim is not None
                    else None,
                    "created_at": filed,
                    "updated_at": closed or filed,
                }
            )
    for start in range(0, len(tickets), BATCH):
        connection.execute(insert(ComplaintTicket), tickets[start : start + BATCH])
    ids = connection.execute(
        select(ComplaintTicket.id, ComplaintTicket.conversation_id, ComplaintTicket.created_at)
        .where(col(ComplaintTicket.conversation_id).like("seed:%"))
        .where(col(ComplaintTicket.reference).is_(None))
    ).all()
    references = [{"tid": id_, "ref": format_reference(id_, filed)} for id_, _, filed in ids]
    set_reference = (
        update(ComplaintTicket)
        .where(col(ComplaintTicket.id) == bindparam("tid"))
        .values(reference=bindparam("ref"))
    )
    for start in range(0, len(references), BATCH):
        connection.execute(set_reference, references[start : start + BATCH])
    events = []
    for id_, key, filed in ids:
        closed, status, agent = closings[key]
        events.append(_event(id_, filed, "assistant", TicketEventKind.created, TicketStatus.open))
        if status is TicketStatus.in_progress:
            events.append(
                _event(id_, filed + timedelta(minutes=30), agent, TicketEventKind.status, status)
            )
        if closed is not None:
            events.append(_event(id_, closed, agent, TicketEventKind.resolved, status))
    for start in range(0, len(events), BATCH):
        connection.execute(insert(ComplaintEvent), events[start : start + BATCH])
    return len(tickets)


def _complaints(rng: random.Random, row: Any) -> list[tuple[Category, datetime, float | None]]:
    """What the sender of this shipment complained about: (category, when, claim)."""
    found: list[tuple[Category, datetime, float | None]] = []
    draw = rng.random()
    after = row.updated_at + timedelta(hours=rng.uniform(2, 30))
    late = row.delivered_at is not None and row.delivered_at.date() > row.promised_date
    if row.status is ShipmentStatus.lost:
        what = (Category.lost, CHANCE["lost"], round(row.declared_value, 2))
    elif row.damaged:
        what = (Category.damaged, CHANCE["damaged"], round(row.declared_value * 0.8, 2))
    elif row.status in (ShipmentStatus.returned, ShipmentStatus.returning):
        what = (Category.misdelivery, CHANCE["returned"], None)
    elif late:
        what = (Category.late_delivery, CHANCE["late"], None)
    else:
        what = None
    if what is not None and draw < what[1]:
        found.append((what[0], after, what[2]))
    draw = rng.random()
    for category, chance in BACKGROUND:
        if draw < chance:
            found.append((category, row.shipped_at + timedelta(days=rng.uniform(1, 20)), None))
            break
        draw -= chance
    return found


def _event(
    ticket_id: int, at: datetime, author: str, kind: TicketEventKind, to: TicketStatus
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "author": author,
        "kind": kind,
        "from_status": None,
        "to_status": to,
        "note": "",
    }
