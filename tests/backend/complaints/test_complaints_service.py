"""Complaint tickets in the store: filing, merging, SLA terms, status flow, proof, atomicity,
concurrent filing (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from backend.complaints import service, sla
from backend.complaints.models import (
    CallbackChannel,
    Category,
    ComplaintEvent,
    ComplaintTicket,
    TicketEventKind,
    TicketStatus,
    Tier,
)
from backend.store.db import get_engine, session_scope
from backend.store.models import Shipment
from tests.backend.conftest import STORE_ANCHOR, ShipmentFactory

NOW = STORE_ANCHOR


def file(session: Session, **fields: object) -> service.Filed:
    values: dict[str, object] = {
        "category": Category.damaged,
        "description": "The box arrived crushed and the vase inside is broken.",
        "callback_channel": CallbackChannel.chat,
        "conversation_id": "conv-1",
        "now": NOW,
    } | fields
    return service.file_complaint(session, **values)  # type: ignore[arg-type]


def count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


# --- tiers and SLA terms --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "category", "amount", "hours", "priority", "queue"),
    [
        (Tier.A, Category.late_delivery, None, 4, 1, "vip-desk"),
        (Tier.B, Category.late_delivery, None, 24, 2, "customer-care"),
        (Tier.C, Category.billing, None, 48, 3, "customer-care"),
        (Tier.C, Category.damaged, 100.0, 48, 3, "claims"),
        (Tier.C, Category.damaged, 900.0, 24, 2, "claims"),  # raised one level
        (Tier.B, Category.lost, 900.0, 4, 1, "vip-desk"),  # raised to the VIP desk
        (Tier.A, Category.lost, 900.0, 4, 1, "vip-desk"),  # nothing above A
        (Tier.C, Category.late_delivery, 900.0, 48, 3, "customer-care"),  # lateness: no raise
    ],
)
def test_sla_terms(
    tier: Tier, category: Category, amount: float | None, hours: int, priority: int, queue: str
) -> None:
    terms = sla.terms_for(tier, category, amount)
    assert (terms.hours, terms.priority, terms.queue) == (hours, priority, queue)


LONDON = ZoneInfo("Europe/London")


def test_deadline_in_words() -> None:
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert sla.deadline_in_words(now + timedelta(hours=4), now, LONDON) == (
        "within 4 hours (by 14:00 today)"
    )
    assert sla.deadline_in_words(now + timedelta(hours=24), now, LONDON) == (
        "within 1 day (by 10:00 tomorrow)"
    )
    assert sla.deadline_in_words(now + timedelta(hours=48), now, LONDON).endswith(
        "(by 10:00 Sun 29 Nov)"
    )


def test_deadline_is_said_in_the_carriers_clock() -> None:
    # In British Summer Time, 13:00 UTC is 14:00 in London; a naive stored time is UTC.
    now = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert sla.deadline_in_words(datetime(2026, 7, 1, 13, 0), now, LONDON) == (
        "within 4 hours (by 14:00 today)"
    )
    # After the clocks go forward, 22:30 UTC is 23:30 in London, and 23:30 UTC is tomorrow.
    late = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
    assert sla.deadline_in_words(late + timedelta(hours=2, minutes=30), late, LONDON) == (
        "within 2 hours 30 minutes (by 23:30 today)"
    )
    assert sla.deadline_in_words(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), now, LONDON).endswith(
        "(by 00:30 tomorrow)"
    )
    assert sla.duration_in_words(timedelta(minutes=200)) == "3 hours 20 minutes"


# --- filing and merging --------------------------------------------------------------------


def test_filing_gives_a_reference_sla_and_history(
    session: Session, make_shipment: ShipmentFactory
) -> None:
    parcel = make_shipment(declared_value=80.0)
    filed = file(session, shipment=parcel, claimed_amount=60.0, has_photos=True)
    ticket = filed.ticket
    assert not filed.merged and filed.terms is not None
    assert ticket.reference == f"C-25-{ticket.id:05d}"
    assert ticket.customer_id == parcel.customer_id
    assert ticket.sla_due_at == NOW + timedelta(hours=filed.terms.hours)
    assert ticket.status is TicketStatus.open
    history = service.ticket_history(session, ticket.id or 0)
    assert [e.kind for e in history] == [TicketEventKind.created]
    assert service.find_ticket(session, f"c 25 {ticket.id}") is not None
    assert service.find_ticket(session, "C-25-99999") is None
    assert service.find_ticket(session, "no reference here") is None


def test_second_complaint_on_same_parcel_and_category_is_merged(
    session: Session, make_shipment: ShipmentFactory
) -> None:
    parcel = make_shipment(declared_value=80.0)
    first = file(session, shipment=parcel)
    again = file(
        session, shipment=parcel, description="Also the lid was torn off.", has_photos=True
    )
    assert again.merged and again.ticket.id == first.ticket.id
    assert again.ticket.has_photos is True
    kinds = [e.kind for e in service.ticket_history(session, first.ticket.id or 0)]
    assert kinds == [TicketEventKind.created, TicketEventKind.merged]
    other_category = file(session, shipment=parcel, category=Category.late_delivery)
    assert not other_category.merged
    service.resolve(session, first.ticket, "Jo Agent", "Refunded", compensation=40.0)
    after_close = file(session, shipment=parcel)
    assert not after_close.merged and after_close.ticket.id != first.ticket.id
    assert count(session, ComplaintTicket) == 3


def test_urgent_tickets_go_first_and_are_never_merged(
    session: Session, make_shipment: ShipmentFactory
) -> None:
    parcel = make_shipment()
    normal = file(session, shipment=parcel, category=Category.courier_conduct)
    urgent = file(session, shipment=parcel, category=Category.courier_conduct, urgent=True)
    assert not urgent.merged and urgent.ticket.id != normal.ticket.id
    assert urgent.ticket.priority == 1 and urgent.ticket.queue == "vip-desk"
    assert urgent.ticket.sla_due_at == NOW + timedelta(hours=4)


@pytest.mark.parametrize("amount", [-5.0, 0.0, float("nan"), 81.0, 1e12])
def test_bad_amounts_are_refused(
    session: Session, make_shipment: ShipmentFactory, amount: float
) -> None:
    parcel = make_shipment(declared_value=80.0)
    with pytest.raises(service.ComplaintError):
        file(session, shipment=parcel, claimed_amount=amount)
    assert count(session, ComplaintTicket) == 0


@pytest.mark.parametrize("description", ["", "   ", "x" * 10_000])
def test_bad_descriptions_are_refused(session: Session, description: str) -> None:
    with pytest.raises(service.ComplaintError):
        file(session, category=Category.other, description=description)


def test_a_crash_mid_filing_leaves_no_ticket(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(service, "_event", crash)
    with pytest.raises(RuntimeError), session_scope(store_url) as session:
        file(session, category=Category.billing)
    with Session(get_engine(store_url)) as session:
        assert count(session, ComplaintTicket) == 0
        assert count(session, ComplaintEvent) == 0


def test_concurrent_filings_get_distinct_references(store_url: str) -> None:
    references: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def one(n: int) -> None:
        try:
            start.wait()
            with session_scope(store_url) as session:
                filed = file(session, category=Category.billing, conversation_id=f"conv-{n}")
                references.append(filed.ticket.reference or "")
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(references)) == 6
    with Session(get_engine(store_url)) as session:
        assert count(session, ComplaintTicket) == 6
        assert count(session, ComplaintEvent) == 6


def test_concurrent_filings_about_one_parcel_make_one_ticket(
    store_url: str, make_shipment: ShipmentFactory, session: Session
) -> None:
    parcel = make_shipment(declared_value=80.0)
    session.commit()
    before = parcel.updated_at
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def one(n: int) -> None:
        try:
            start.wait()
            with session_scope(store_url) as own:
                shipment = own.get(Shipment, parcel.id)
                filed = file(own, shipment=shipment, conversation_id=f"conv-{n}")
                outcomes.append(filed.merged)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(outcomes) == [False, True, True, True]
    with Session(get_engine(store_url)) as fresh:
        assert count(fresh, ComplaintTicket) == 1
        assert count(fresh, ComplaintEvent) == 4
        shipment = fresh.get(Shipment, parcel.id)
        assert shipment is not None and shipment.updated_at == before  # the lock changed nothing


# --- agents' updates and the status report -------------------------------------------------


def test_status_flow(session: Session) -> None:
    ticket = file(session, category=Category.courier_conduct).ticket
    service.change_status(session, ticket, TicketStatus.in_progress, "Jo Agent", now=NOW)
    assert ticket.owner == "Jo Agent"
    service.change_status(session, ticket, TicketStatus.waiting_for_customer, "Jo Agent")
    service.add_note(session, ticket, "Jo Agent", "Asked for the date and time of the visit.")
    with pytest.raises(service.ComplaintError):
        service.change_status(session, ticket, TicketStatus.open, "Jo Agent")
    with pytest.raises(service.ComplaintError):
        service.resolve(session, ticket, "Jo Agent", compensation=-1.0)
    service.resolve(session, ticket, "Jo Agent", "Apology sent", compensation=15.0)
    assert ticket.status is TicketStatus.resolved and ticket.compensation == 15.0
    with pytest.raises(service.ComplaintError):
        service.change_status(session, ticket, TicketStatus.in_progress, "Jo Agent")
    kinds = [e.kind for e in service.ticket_history(session, ticket.id or 0)]
    assert kinds == [
        TicketEventKind.created,
        TicketEventKind.status,
        TicketEventKind.status,
        TicketEventKind.note,
        TicketEventKind.resolved,
    ]
    with pytest.raises(service.ComplaintError):
        service.add_note(session, ticket, "Jo Agent", "   ")


def test_rejection_carries_no_compensation(session: Session) -> None:
    ticket = file(session, category=Category.other).ticket
    with pytest.raises(service.ComplaintError):
        service.resolve(session, ticket, "Jo", compensation=5.0, status=TicketStatus.rejected)
    service.change_status(session, ticket, TicketStatus.rejected, "Jo", "Not our parcel")
    assert ticket.status is TicketStatus.rejected and ticket.compensation is None


def test_list_by_urgency(session: Session) -> None:
    late = file(session, category=Category.billing, now=NOW - timedelta(days=3)).ticket
    fresh = file(session, category=Category.billing).ticket
    closed = file(session, category=Category.billing, now=NOW - timedelta(days=9)).ticket
    service.resolve(session, closed, "Jo")
    ids = [t.id for t in service.list_by_urgency(session)]
    assert ids == [late.id, fresh.id]
    assert closed.id in [t.id for t in service.list_by_urgency(session, include_closed=True)]


def test_status_report_apologises_when_overdue(session: Session) -> None:
    ticket = file(session, category=Category.billing).ticket
    on_time = service.status_report(session, ticket, NOW + timedelta(hours=1))
    assert ticket.reference in on_time and "sorry" not in on_time.lower()
    overdue = service.status_report(session, ticket, NOW + timedelta(days=5))
    assert "sorry" in overdue.lower()
    service.resolve(session, ticket, "Jo", "Refund issued", compensation=12.5)
    done = service.status_report(session, ticket, NOW + timedelta(days=5))
    assert "resolved" in done and "£12.50" in done and "Refund issued" in done


def test_only_the_filer_or_a_proof_holder_sees_a_ticket(
    session: Session, make_shipment: ShipmentFactory
) -> None:
    parcel = make_shipment()
    someone_else = make_shipment()
    ticket = file(
        session,
        shipment=parcel,
        category=Category.late_delivery,
        callback_channel=CallbackChannel.phone,
        contact="+447700900555",
    ).ticket
    assert service.can_view(session, ticket, "conv-1", None)
    assert not service.can_view(session, ticket, "conv-2", None)
    assert service.can_view(session, ticket, "conv-2", parcel.tracking_number.lower())
    assert not service.can_view(session, ticket, "conv-2", someone_else.tracking_number)
    assert service.can_view(session, ticket, "conv-2", "it ends 0555")
    assert service.can_view(session, ticket, "conv-2", "07700 900555")
    assert not service.can_view(session, ticket, "conv-2", "9999")
    assert not service.can_view(session, ticket, "conv-2", "55")
