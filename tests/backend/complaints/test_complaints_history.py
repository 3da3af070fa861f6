"""The demo seed's complaint history: consistent with the parcels, the SLA and the anchor."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.complaints.models import Category, ComplaintEvent, ComplaintTicket, TicketStatus
from backend.complaints.service import format_reference
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.store.seed import example_numbers, seed_database
from tests.backend.conftest import STORE_ANCHOR

CLOSED = (TicketStatus.resolved, TicketStatus.rejected)


def test_history_matches_the_parcels_and_the_anchor(store_url: str) -> None:
    seed_database(
        store_url,
        customers=80,
        shipments=4000,
        seed=5,
        anchor=STORE_ANCHOR,
        complaints=True,
        echo=lambda _: None,
    )
    with Session(get_engine(store_url)) as session:
        tickets = session.exec(select(ComplaintTicket)).all()
        assert len(tickets) > 20
        shipments = {s.id: s for s in session.exec(select(Shipment))}
        events = session.exec(select(ComplaintEvent)).all()
        examples = set(example_numbers(session).values())
    per_ticket: dict[int, list[ComplaintEvent]] = {}
    for event in events:
        per_ticket.setdefault(event.ticket_id, []).append(event)
    categories = Counter(t.category for t in tickets)
    assert {Category.damaged, Category.late_delivery} <= set(categories)
    for ticket in tickets:
        assert ticket.id is not None and ticket.shipment_id is not None
        assert ticket.reference == format_reference(ticket.id, ticket.created_at)
        parcel = shipments[ticket.shipment_id]
        assert parcel.tracking_number not in examples
        assert ticket.customer_id == parcel.customer_id
        assert parcel.shipped_at < ticket.created_at <= STORE_ANCHOR
        if ticket.category is Category.lost:
            assert parcel.status is ShipmentStatus.lost
        if ticket.category is Category.damaged:
            assert parcel.damaged and ticket.claimed_amount
        history = sorted(per_ticket[ticket.id], key=lambda e: e.occurred_at)
        assert history[0].to_status is TicketStatus.open
        assert all(e.occurred_at <= STORE_ANCHOR for e in history)
        if ticket.status in CLOSED:
            assert history[-1].to_status is ticket.status
            assert history[-1].occurred_at > ticket.created_at
        else:
            assert not any(e.to_status in CLOSED for e in history)


def test_the_seed_adds_no_complaints_unless_asked(sqlite_url: str) -> None:
    seed_database(sqlite_url, customers=20, shipments=500, seed=5, echo=lambda _: None)
    with Session(get_engine(sqlite_url)) as session:
        assert session.exec(select(func.count(col(ComplaintTicket.id)))).one() == 0
