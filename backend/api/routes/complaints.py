"""Agents' view of complaint tickets: list by SLA urgency, read one, change status, add notes,
resolve. Behind an agent login (console session cookie or its bearer token; see routes/auth.py).

The assistant reads the same tables, so what an agent writes here is what the customer hears
on their next status question.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from backend.api.routes import SessionDep
from backend.api.routes.auth import AGENT_REFUSALS, AgentDep, require_agent
from backend.api.schemas import refusal
from backend.complaints import service
from backend.complaints.models import (
    CallbackChannel,
    Category,
    ComplaintEvent,
    ComplaintTicket,
    TicketEventKind,
    TicketStatus,
    Tier,
)
from backend.store.models import Shipment
from backend.store.queries import find_shipment

router = APIRouter(
    prefix="/api/agent/complaints",
    tags=["complaints (agents)"],
    dependencies=[Depends(require_agent)],
    responses=AGENT_REFUSALS
    | {
        404: refusal("No complaint has this reference, or no parcel that number."),
        409: refusal("Not possible in the ticket's state."),
    },
)


class TicketSummary(BaseModel):
    reference: str
    category: Category
    status: TicketStatus
    tier: Tier
    priority: int
    queue: str
    owner: str | None
    tracking_number: str | None
    sla_due_at: datetime
    minutes_to_sla: int = Field(description="Negative when the SLA has passed.")
    created_at: datetime
    updated_at: datetime


class TicketEventOut(BaseModel):
    time: datetime
    author: str
    kind: TicketEventKind
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    note: str


class TicketDetail(TicketSummary):
    description: str
    claimed_amount: float | None
    has_photos: bool | None
    callback_channel: CallbackChannel
    contact: str
    compensation: float | None
    history: list[TicketEventOut]


class StatusChange(BaseModel):
    status: TicketStatus
    # Kept for older clients; the signed-in agent is recorded as the author.
    author: str | None = Field(default=None, min_length=1, max_length=100)
    note: str = Field(default="", max_length=service.MAX_NOTE_CHARS)


class NoteIn(BaseModel):
    # Kept for older clients; the signed-in agent is recorded as the author.
    author: str | None = Field(default=None, min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=service.MAX_NOTE_CHARS)


class Resolution(BaseModel):
    # Kept for older clients; the signed-in agent is recorded as the author.
    author: str | None = Field(default=None, min_length=1, max_length=100)
    note: str = Field(default="", max_length=service.MAX_NOTE_CHARS)
    outcome: Literal["resolved", "rejected"] = "resolved"
    compensation: float | None = Field(default=None, ge=0, le=service.MAX_CLAIM_GBP)


def _summary(session: Session, ticket: ComplaintTicket, now: datetime) -> dict[str, object]:
    shipment = session.get(Shipment, ticket.shipment_id) if ticket.shipment_id else None
    return {
        "reference": ticket.reference or "",
        "category": ticket.category,
        "status": ticket.status,
        "tier": ticket.tier,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "owner": ticket.owner,
        "tracking_number": shipment.tracking_number if shipment else None,
        "sla_due_at": ticket.sla_due_at,
        "minutes_to_sla": int((ticket.sla_due_at - now).total_seconds() // 60),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def _event_out(event: ComplaintEvent) -> TicketEventOut:
    return TicketEventOut(
        time=event.occurred_at,
        author=event.author,
        kind=event.kind,
        from_status=event.from_status,
        to_status=event.to_status,
        note=event.note,
    )


def _detail(session: Session, ticket: ComplaintTicket) -> TicketDetail:
    assert ticket.id is not None
    return TicketDetail(
        **_summary(session, ticket, datetime.now(UTC)),  # type: ignore[arg-type]
        description=ticket.description,
        claimed_amount=ticket.claimed_amount,
        has_photos=ticket.has_photos,
        callback_channel=ticket.callback_channel,
        contact=ticket.contact,
        compensation=ticket.compensation,
        history=[_event_out(e) for e in service.ticket_history(session, ticket.id)],
    )


def _ticket(session: Session, reference: str) -> ComplaintTicket:
    ticket = service.find_ticket(session, reference)
    if ticket is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"No complaint has the reference {reference}."
        )
    return ticket


def _write(
    session: Session, reference: str, change: Callable[[ComplaintTicket], object]
) -> TicketDetail:
    """Commit the change made by `change(ticket)`, or roll it back and answer 409."""
    ticket = _ticket(session, reference)
    try:
        change(ticket)
        session.commit()
    except service.ComplaintError as refused:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    session.refresh(ticket)
    return _detail(session, ticket)


@router.get(
    "",
    response_model=list[TicketSummary],
    summary="Tickets by SLA urgency",
    description=(
        "Open tickets (all with include_closed=true), the one whose answer deadline comes "
        "first at the top; priority breaks ties. 401 without an agent's session."
    ),
)
def list_tickets(
    session: SessionDep,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TicketSummary]:
    now = datetime.now(UTC)
    return [
        TicketSummary(**_summary(session, t, now))  # type: ignore[arg-type]
        for t in service.list_by_urgency(session, include_closed, limit)
    ]


@router.get(
    "/{reference}",
    response_model=TicketDetail,
    summary="One ticket with its history",
    description="The ticket and every status change, note and merge, oldest first. 404 if unknown.",
)
def read_ticket(reference: str, session: SessionDep) -> TicketDetail:
    return _detail(session, _ticket(session, reference))


@router.post(
    "/{reference}/status",
    response_model=TicketDetail,
    summary="Change the status",
    description=(
        "Moves the ticket along open → in progress → waiting for customer → resolved / "
        "rejected, with an optional note; the first agent to take it in progress owns it. "
        "409 for a move the flow does not allow."
    ),
)
def change_status(
    reference: str, body: StatusChange, session: SessionDep, agent: AgentDep
) -> TicketDetail:
    return _write(
        session,
        reference,
        lambda t: service.change_status(session, t, body.status, agent.display_name, body.note),
    )


@router.post(
    "/{reference}/notes",
    response_model=TicketDetail,
    summary="Add a note",
    description="A note in the ticket's history; the customer hears the latest one.",
)
def add_note(reference: str, body: NoteIn, session: SessionDep, agent: AgentDep) -> TicketDetail:
    return _write(
        session, reference, lambda t: service.add_note(session, t, agent.display_name, body.note)
    )


@router.post(
    "/{reference}/resolve",
    response_model=TicketDetail,
    summary="Resolve or reject",
    description=(
        "Closes the ticket as resolved (with a compensation amount where it applies) or "
        "rejected (never with compensation). 409 if it is already closed."
    ),
)
def resolve(reference: str, body: Resolution, session: SessionDep, agent: AgentDep) -> TicketDetail:
    return _write(
        session,
        reference,
        lambda t: service.resolve(
            session,
            t,
            agent.display_name,
            body.note,
            compensation=body.compensation,
            status=TicketStatus(body.outcome),
        ),
    )


class NewComplaint(BaseModel):
    """A complaint an agent takes on the phone (the console's prefilled form)."""

    category: Category
    description: str = Field(min_length=3, max_length=service.MAX_DESCRIPTION_CHARS)
    tracking_number: str | None = Field(default=None, max_length=40)
    claimed_amount: float | None = Field(default=None, gt=0, le=service.MAX_CLAIM_GBP)
    callback_channel: CallbackChannel = CallbackChannel.phone
    contact: str = Field(default="", max_length=254)


@router.post(
    "",
    response_model=TicketDetail,
    status_code=status.HTTP_201_CREATED,
    summary="File a complaint taken on the phone",
    description="Same rules as the chat: tiered SLA, duplicates merged into the open ticket.",
)
def file_ticket(body: NewComplaint, session: SessionDep) -> TicketDetail:
    shipment = None
    if body.tracking_number:
        shipment = find_shipment(session, body.tracking_number)
        if shipment is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "No shipment with that number.")
    try:
        filed = service.file_complaint(
            session,
            category=body.category,
            description=body.description,
            shipment=shipment,
            claimed_amount=body.claimed_amount,
            callback_channel=body.callback_channel,
            contact=body.contact,
            conversation_id="",
        )
        session.commit()
    except service.ComplaintError as refused:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    session.refresh(filed.ticket)
    return _detail(session, filed.ticket)
