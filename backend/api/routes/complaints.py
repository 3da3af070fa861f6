"""Agents' view of complaint tickets: list by SLA urgency, read one, change status, add notes,
resolve, assign. Behind an agent login (console session cookie or its bearer token; see
routes/auth.py). Every agent reads every ticket; an assigned ticket is changed only by its owner
or a manager (backend/agents/permissions.py).

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

from backend.agents.models import Agent
from backend.agents.permissions import may_assign_ticket, may_change_ticket
from backend.agents.service import Identity, find_agent
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
    owner_username: str | None = Field(description="The console account that owns it, if any.")
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


def _username(session: Session, agent_id: int | None) -> str | None:
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.username if agent else None


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
        "owner_username": _username(session, ticket.owner_agent_id),
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


def _refuse_unless(allowed: bool, ticket: ComplaintTicket) -> None:
    if not allowed:
        owner = ticket.owner or "another agent"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{ticket.reference} is assigned to {owner}: only they or a manager can change it.",
        )


def _write(
    session: Session,
    reference: str,
    agent: Identity,
    change: Callable[[ComplaintTicket], object],
) -> TicketDetail:
    """Commit the change made by `change(ticket)`, or roll it back and answer 409; 403 when the
    ticket is another agent's and the caller is not a manager."""
    ticket = _ticket(session, reference)
    _refuse_unless(may_change_ticket(agent, ticket.owner_agent_id), ticket)
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
        agent,
        lambda t: service.change_status(
            session, t, body.status, agent.display_name, body.note, agent_id=agent.agent_id
        ),
    )


@router.post(
    "/{reference}/notes",
    response_model=TicketDetail,
    summary="Add a note",
    description="A note in the ticket's history; the customer hears the latest one.",
)
def add_note(reference: str, body: NoteIn, session: SessionDep, agent: AgentDep) -> TicketDetail:
    return _write(
        session,
        reference,
        agent,
        lambda t: service.add_note(session, t, agent.display_name, body.note),
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
        agent,
        lambda t: service.resolve(
            session,
            t,
            agent.display_name,
            body.note,
            compensation=body.compensation,
            status=TicketStatus(body.outcome),
        ),
    )


class Assignment(BaseModel):
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The account to give it to; omitted: the caller takes it.",
    )


@router.post(
    "/{reference}/assign",
    response_model=TicketDetail,
    summary="Assign the ticket",
    description=(
        "An agent takes an unassigned ticket for themselves; a manager gives any open ticket "
        "to any account (a shift change, an absence). 403 for an agent taking another's ticket "
        "or giving one away, 404 for an unknown account, 409 when the ticket is closed."
    ),
)
def assign(reference: str, body: Assignment, session: SessionDep, agent: AgentDep) -> TicketDetail:
    ticket = _ticket(session, reference)
    target = (
        find_agent(session, body.username) if body.username else session.get(Agent, agent.agent_id)
    )
    if target is None or target.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No console account has that username.")
    target_id, name = target.id, target.display_name
    if target_id != agent.agent_id and not may_assign_ticket(agent, None, target_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Only a manager gives a ticket to someone else."
        )
    _refuse_unless(may_assign_ticket(agent, ticket.owner_agent_id, target_id), ticket)
    return _write(
        session,
        reference,
        agent,
        lambda t: service.assign(session, t, target_id, name, agent.display_name),
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
