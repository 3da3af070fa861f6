"""Filing, reading and updating complaint tickets: what the assistant and the agents' API share.

Functions take a session and flush, never commit: the caller's transaction (`session_scope` in
actions, one request in the API) makes each operation all-or-nothing. A ticket is never visible
without its "created" event, and a merge never half-happens.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from backend.complaints import sla
from backend.complaints.models import (
    CallbackChannel,
    Category,
    ComplaintEvent,
    ComplaintTicket,
    TicketEventKind,
    TicketStatus,
)
from backend.crm.models import Tier
from backend.crm.tiers import current_tier
from backend.store.models import Customer, Shipment

ASSISTANT = "assistant"
MAX_DESCRIPTION_CHARS = 2000
MAX_NOTE_CHARS = 2000
MAX_CLAIM_GBP = 50_000.0  # above this a claim goes through the insurer, not the complaints desk
CLOSED = frozenset({TicketStatus.resolved, TicketStatus.rejected})
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.open: frozenset(
        {TicketStatus.in_progress, TicketStatus.waiting_for_customer, *CLOSED}
    ),
    TicketStatus.in_progress: frozenset({TicketStatus.waiting_for_customer, *CLOSED}),
    TicketStatus.waiting_for_customer: frozenset({TicketStatus.in_progress, *CLOSED}),
    TicketStatus.resolved: frozenset(),
    TicketStatus.rejected: frozenset(),
}
# Events whose note is for the team, not read out to the customer.
QUIET_KINDS = (TicketEventKind.created, TicketEventKind.merged, TicketEventKind.assigned)
_REFERENCE = re.compile(r"\bC\s*-?\s*(\d{2})\s*-?\s*(\d{1,6})\b", re.IGNORECASE)


class ComplaintError(ValueError):
    """A request the ticket cannot take, worded for the person who made it."""


@dataclass(frozen=True)
class Filed:
    ticket: ComplaintTicket
    merged: bool
    terms: sla.ServiceTerms | None  # None when merged into an existing ticket


def now_utc() -> datetime:
    return datetime.now(UTC)


def format_reference(ticket_id: int, filed_at: datetime) -> str:
    return f"C-{filed_at:%y}-{ticket_id:05d}"


def parse_reference(text: str) -> str | None:
    """The canonical reference in `text` ('c 26 123' -> 'C-26-00123'), or None."""
    found = _REFERENCE.search(text or "")
    if not found:
        return None
    return f"C-{found.group(1)}-{int(found.group(2)):05d}"


def amount_problem(amount: float, declared_value: float | None) -> str | None:
    """Why a claimed amount cannot be accepted (None: it can)."""
    if amount != amount or amount <= 0:  # NaN or not positive
        return "The amount has to be more than £0."
    if amount > MAX_CLAIM_GBP:
        return f"Claims above £{MAX_CLAIM_GBP:,.0f} go to our insurer; a person will help with it."
    if declared_value is not None and amount > declared_value + 0.005:
        return (
            f"The parcel was declared at £{declared_value:,.2f}, and a claim can't be more "
            "than the declared value."
        )
    return None


def clean_text(text: str, limit: int) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise ComplaintError("Please describe what happened.")
    if len(cleaned) > limit:
        raise ComplaintError(f"That's longer than {limit} characters; please keep it shorter.")
    return cleaned


def _event(
    session: Session,
    ticket: ComplaintTicket,
    kind: TicketEventKind,
    author: str,
    note: str = "",
    from_status: TicketStatus | None = None,
    to_status: TicketStatus | None = None,
    at: datetime | None = None,
) -> ComplaintEvent:
    assert ticket.id is not None
    event = ComplaintEvent(
        ticket_id=ticket.id,
        occurred_at=at or now_utc(),
        author=author,
        kind=kind,
        note=note,
        from_status=from_status,
        to_status=to_status,
    )
    session.add(event)
    return event


def open_ticket_for_shipment(
    session: Session, shipment_id: int, category: Category
) -> ComplaintTicket | None:
    query = (
        select(ComplaintTicket)
        .where(
            ComplaintTicket.shipment_id == shipment_id,
            ComplaintTicket.category == category,
            col(ComplaintTicket.status).not_in(list(CLOSED)),
        )
        .order_by(col(ComplaintTicket.id))
    )
    return session.exec(query).first()


def open_tickets(
    session: Session, conversation_id: str | None = None, shipment_id: int | None = None
) -> list[ComplaintTicket]:
    """Open tickets filed in this conversation or about this shipment, oldest first."""
    conditions = []
    if conversation_id:
        conditions.append(ComplaintTicket.conversation_id == conversation_id)
    if shipment_id is not None:
        conditions.append(ComplaintTicket.shipment_id == shipment_id)
    if not conditions:
        return []
    query = (
        select(ComplaintTicket)
        .where(or_(*conditions), col(ComplaintTicket.status).not_in(list(CLOSED)))
        .order_by(col(ComplaintTicket.id))
    )
    return list(session.exec(query))


def latest_ticket_of_conversation(session: Session, conversation_id: str) -> ComplaintTicket | None:
    """The ticket most recently filed in this conversation (open or not)."""
    if not conversation_id:
        return None
    query = (
        select(ComplaintTicket)
        .where(ComplaintTicket.conversation_id == conversation_id)
        .order_by(col(ComplaintTicket.id).desc())
    )
    return session.exec(query).first()


def file_complaint(
    session: Session,
    *,
    category: Category,
    description: str,
    shipment: Shipment | None = None,
    customer_id: int | None = None,
    claimed_amount: float | None = None,
    has_photos: bool | None = None,
    callback_channel: CallbackChannel = CallbackChannel.chat,
    contact: str = "",
    conversation_id: str = "",
    now: datetime | None = None,
    urgent: bool = False,
) -> Filed:
    """A new ticket, or the new details added to the open ticket on the same shipment and
    category. Flushed in the caller's transaction. An `urgent` ticket (a threat or a safety
    issue) is always new and handled as tier A whatever the customer's tier."""
    now = now or now_utc()
    text = clean_text(description, MAX_DESCRIPTION_CHARS)
    if claimed_amount is not None:
        problem = amount_problem(claimed_amount, shipment.declared_value if shipment else None)
        if problem:
            raise ComplaintError(problem)
    if shipment is not None and not urgent:
        assert shipment.id is not None
        customer_id = shipment.customer_id
        # Two filings about one parcel must queue up, or both would find no open ticket and
        # open one each. A no-op UPDATE of the shipment takes its row lock on PostgreSQL and
        # the write lock on SQLite, before the open ticket is looked for.
        session.connection().execute(
            update(Shipment)
            .where(col(Shipment.id) == shipment.id)
            .values(updated_at=Shipment.updated_at)
        )
        existing = open_ticket_for_shipment(session, shipment.id, category)
        if existing is not None:
            details = [text]
            if claimed_amount is not None:
                details.append(f"claimed amount now £{claimed_amount:,.2f}")
                existing.claimed_amount = claimed_amount
            if has_photos:
                details.append("customer has photos")
                existing.has_photos = True
            existing.updated_at = now
            session.add(existing)
            note = "; ".join(details)
            _event(session, existing, TicketEventKind.merged, "customer", note, at=now)
            session.flush()
            return Filed(existing, merged=True, terms=None)
    tier = current_tier(session, customer_id) if customer_id is not None else Tier.C
    at_stake = claimed_amount
    if at_stake is None and shipment is not None:
        at_stake = shipment.declared_value
    terms = sla.terms_for(Tier.A if urgent else tier, category, at_stake)
    ticket = ComplaintTicket(
        customer_id=customer_id,
        shipment_id=shipment.id if shipment else None,
        category=category,
        description=text,
        claimed_amount=claimed_amount,
        has_photos=has_photos,
        callback_channel=callback_channel,
        contact=contact[:254],
        tier=tier,
        priority=terms.priority,
        queue=terms.queue,
        sla_due_at=terms.due(now),
        conversation_id=conversation_id[:100],
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()  # the database assigns the id the reference is made of
    assert ticket.id is not None
    ticket.reference = format_reference(ticket.id, now)
    session.add(ticket)
    _event(
        session,
        ticket,
        TicketEventKind.created,
        ASSISTANT,
        f"{category.value}, tier {tier.value}, queue {terms.queue}"
        + (", raised one level for the value at stake" if terms.raised else "")
        + (", urgent: threat or safety issue" if urgent else ""),
        to_status=TicketStatus.open,
        at=now,
    )
    session.flush()
    return Filed(ticket, merged=False, terms=terms)


def find_ticket(session: Session, reference: str) -> ComplaintTicket | None:
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    return session.exec(
        select(ComplaintTicket).where(ComplaintTicket.reference == canonical)
    ).first()


def ticket_history(session: Session, ticket_id: int) -> list[ComplaintEvent]:
    query = (
        select(ComplaintEvent)
        .where(ComplaintEvent.ticket_id == ticket_id)
        .order_by(col(ComplaintEvent.occurred_at), col(ComplaintEvent.id))
    )
    return list(session.exec(query))


def list_by_urgency(
    session: Session, include_closed: bool = False, limit: int = 100
) -> list[ComplaintTicket]:
    """Tickets whose SLA runs out first, first; priority breaks ties."""
    query = select(ComplaintTicket)
    if not include_closed:
        query = query.where(col(ComplaintTicket.status).not_in(list(CLOSED)))
    query = query.order_by(
        col(ComplaintTicket.sla_due_at), col(ComplaintTicket.priority), col(ComplaintTicket.id)
    ).limit(limit)
    return list(session.exec(query))


def change_status(
    session: Session,
    ticket: ComplaintTicket,
    status: TicketStatus,
    author: str,
    note: str = "",
    now: datetime | None = None,
    agent_id: int | None = None,
) -> ComplaintTicket:
    """`agent_id`: the console account making the change (None for the assistant)."""
    if status in CLOSED:
        return resolve(session, ticket, author, note, status=status, now=now)
    return _move(session, ticket, status, author, note, TicketEventKind.status, now, agent_id)


def _move(
    session: Session,
    ticket: ComplaintTicket,
    status: TicketStatus,
    author: str,
    note: str,
    kind: TicketEventKind,
    now: datetime | None,
    agent_id: int | None = None,
) -> ComplaintTicket:
    now = now or now_utc()
    if status not in TRANSITIONS[ticket.status]:
        raise ComplaintError(f"A ticket that is {ticket.status.value} can't become {status.value}.")
    note = " ".join(note.split())[:MAX_NOTE_CHARS]
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = now
    # The first console agent to take it in progress owns it (replacing a name without an
    # account, such as the seeded history's staff).
    if status is TicketStatus.in_progress:
        if agent_id is not None and ticket.owner_agent_id is None:
            ticket.owner, ticket.owner_agent_id = author[:100], agent_id
        elif not ticket.owner:
            ticket.owner = author[:100]
    session.add(ticket)
    _event(session, ticket, kind, author, note, previous, status, at=now)
    session.flush()
    return ticket


def add_note(
    session: Session, ticket: ComplaintTicket, author: str, note: str, now: datetime | None = None
) -> ComplaintEvent:
    now = now or now_utc()
    text = clean_text(note, MAX_NOTE_CHARS)
    ticket.updated_at = now
    session.add(ticket)
    event = _event(session, ticket, TicketEventKind.note, author, text, at=now)
    session.flush()
    return event


def assign(
    session: Session,
    ticket: ComplaintTicket,
    agent_id: int,
    agent_name: str,
    by: str,
    now: datetime | None = None,
) -> ComplaintEvent:
    """The ticket belongs to the console account `agent_id` from now; `by` made the change."""
    if ticket.status in CLOSED:
        raise ComplaintError(f"A ticket that is {ticket.status.value} is not assigned any more.")
    now = now or now_utc()
    previous = ticket.owner or "nobody"
    ticket.owner, ticket.owner_agent_id = agent_name[:100], agent_id
    ticket.updated_at = now
    session.add(ticket)
    note = f"Assigned to {agent_name} (was {previous}) by {by}."
    event = _event(session, ticket, TicketEventKind.assigned, by, note, at=now)
    session.flush()
    return event


def resolve(
    session: Session,
    ticket: ComplaintTicket,
    author: str,
    note: str = "",
    compensation: float | None = None,
    status: TicketStatus = TicketStatus.resolved,
    now: datetime | None = None,
) -> ComplaintTicket:
    if status not in CLOSED:
        raise ComplaintError("A ticket is closed as resolved or rejected.")
    if compensation is not None:
        if status is TicketStatus.rejected:
            raise ComplaintError("A rejected complaint carries no compensation.")
        if compensation != compensation or compensation < 0 or compensation > MAX_CLAIM_GBP:
            raise ComplaintError("The compensation must be between £0 and the claim limit.")
        ticket.compensation = round(compensation, 2)
    return _move(session, ticket, status, author, note, TicketEventKind.resolved, now)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def can_view(
    session: Session, ticket: ComplaintTicket, conversation_id: str, proof: str | None
) -> bool:
    """Whether this conversation may see the ticket: it filed it, or `proof` holds the tracking
    number of the ticket's shipment, or at least the last four digits of a phone on the ticket
    (the callback number, the customer's phone)."""
    if ticket.conversation_id and ticket.conversation_id == conversation_id:
        return True
    if not proof:
        return False
    shipment = session.get(Shipment, ticket.shipment_id) if ticket.shipment_id else None
    compact = re.sub(r"[\s-]", "", proof).upper()
    if shipment is not None and shipment.tracking_number in compact:
        return True
    digits = _digits(proof)
    if len(digits) < 4:
        return False
    phones = [ticket.contact] if ticket.callback_channel is CallbackChannel.phone else []
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if customer is not None:
        phones.append(customer.phone)
    if shipment is not None:
        phones.append(shipment.consignee_phone)
    tail = digits[-4:] if len(digits) <= 4 else digits
    if tail.startswith("0") and len(tail) > 10:  # a full UK number in national format
        tail = tail[1:]
    return any(_digits(p).endswith(tail) for p in phones if len(_digits(p)) >= 4)


STATUS_WORDS = {
    TicketStatus.open: "open and waiting for an agent",
    TicketStatus.in_progress: "being worked on",
    TicketStatus.waiting_for_customer: "waiting for information from you",
    TicketStatus.resolved: "resolved",
    TicketStatus.rejected: "closed without a payout",
}


def status_report(session: Session, ticket: ComplaintTicket, now: datetime | None = None) -> str:
    """What the customer hears about their ticket: status, last update, owner, SLA."""
    now = now or now_utc()
    assert ticket.id is not None
    history = ticket_history(session, ticket.id)
    last = history[-1] if history else None
    owner = ticket.owner or (
        "our VIP desk" if ticket.queue == "vip-desk" else f"the {ticket.queue} team"
    )
    parts = [f"Your complaint {ticket.reference} is {STATUS_WORDS[ticket.status]}."]
    if last is not None:
        ago = sla.duration_in_words(now - last.occurred_at)
        update = f"Last update {ago} ago"
        if last.kind not in QUIET_KINDS and last.note:
            update += f": {last.note}"
        parts.append(update + ".")
    if ticket.status in CLOSED:
        if ticket.compensation:
            parts.append(f"Compensation of £{ticket.compensation:,.2f} was agreed.")
        return " ".join(parts)
    parts.append(f"It's with {owner}.")
    if ticket.sla_due_at >= now:
        left = sla.duration_in_words(ticket.sla_due_at - now)
        parts.append(f"We promised an answer within {left} from now.")
    else:
        late = sla.duration_in_words(now - ticket.sla_due_at)
        parts.append(
            f"I'm sorry: we promised an answer {late} ago and haven't kept that promise. "
            "Overdue tickets are at the top of our agents' list."
        )
    return " ".join(parts)
