"""Requesting a person, the queue agents take from, and the end of each handoff.

Used by the action server (`action_handoff` and the automatic triggers), the gateway (threats
in any message) and the console's API. Every function works in the caller's transaction and
takes `now`, so tests can move the clock. What the customer is told comes from here too, so
the bot and the backend say the same thing; the texts are returned, not recorded: the caller
delivers them (the bot's answer, or the gateway's push, which writes the transcript).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.agents.permissions import may_work_handoff
from backend.agents.service import Identity
from backend.config import Settings
from backend.crm.tiers import current_tier
from backend.handoff.hours import is_open
from backend.handoff.models import OPEN_STATUSES, Handoff, HandoffStatus, Reason
from backend.store.models import utcnow

PRIORITY_OF_TIER = {"A": 1, "B": 2, "C": 3}
URGENT_REASONS = frozenset({Reason.threat, Reason.vip_complaint})

JOINING = (
    "I'm passing you to one of our team. An agent will join this chat in about {minutes} "
    "minute{plural}; they will see everything you write here, and I can still help meanwhile."
)
JOINING_URGENT = (
    "I'm passing this to our team straight away, ahead of the queue. An agent will join this "
    "chat in about {minutes} minute{plural}. If anyone is in danger, please call 999 now."
)
ALREADY_QUEUED = (
    "You're already in the queue for one of our team (reference {reference}); they will join "
    "this chat as soon as they're free."
)
CLOSED_DESK = (
    "Our team is not at the desk right now (opening hours: {hours}). I've opened call-back "
    "ticket {reference}: we'll contact you {how} as soon as we open. Please quote {reference} "
    "if you call us on {phone}."
)
CLOSED_DESK_URGENT = CLOSED_DESK + " If anyone is in danger, please call 999 now."
TIMED_OUT = (
    "I'm sorry, all of our team are still busy. So that you don't have to wait here, I've "
    "opened call-back ticket {reference}: we'll contact you {how} as soon as someone is free."
)
AGENT_JOINED = "{agent} from our team has joined the chat."
HANDED_BACK = (
    "{agent} has handed you back to the assistant. Is there anything else I can help with?"
)
CLOSED_BY_AGENT = "{agent} has closed this conversation. Thanks for contacting Parcelline."


class HandoffError(ValueError):
    """A move the handoff's state does not allow; the message is safe to show an agent."""


@dataclass(frozen=True)
class Requested:
    handoff: Handoff
    text: str  # what the customer is told
    created: bool


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.exec(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, col(Handoff.status).in_(OPEN_STATUSES))
        .order_by(col(Handoff.id).desc())
    ).first()


def priority_for(reason: Reason, tier: str | None) -> int:
    return 1 if reason in URGENT_REASONS else PRIORITY_OF_TIER.get(tier or "C", 3)


def queue_position(session: Session, handoff: Handoff) -> int:
    """1 for the next to be taken: waiting handoffs of higher priority or older go first."""
    ahead = session.exec(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.status == HandoffStatus.waiting,
            col(Handoff.id) != handoff.id,
            (col(Handoff.priority) < handoff.priority)
            | (
                (col(Handoff.priority) == handoff.priority)
                & (col(Handoff.created_at) <= handoff.created_at)
            ),
        )
    ).one()
    return int(ahead) + 1


def wait_minutes(position: int, settings: Settings) -> int:
    """Conversations ahead (and this one) over the agents on duty, times the handling time."""
    rounds = math.ceil(position / max(1, settings.handoff_agents_on_duty))
    return max(1, math.ceil(rounds * settings.handoff_handling_minutes))


def _contact_words(customer_id: int | None) -> str:
    return "on the phone number on your account" if customer_id else "in this chat or by phone"


def request_handoff(
    session: Session,
    conversation_id: str,
    reason: Reason,
    settings: Settings,
    customer_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Requested:
    """Queue the conversation for a person (or open a call-back ticket when the desk is
    closed) and say honestly what happens next. A conversation already queued stays queued
    once; a threat moves it to the front."""
    now = now or utcnow()
    existing = open_handoff(session, conversation_id)
    if existing is not None:
        # Urgent reasons go first in line; a threat is also named as such to the agent.
        named_threat = reason is Reason.threat and existing.reason is not Reason.threat
        if named_threat or (reason in URGENT_REASONS and existing.priority > 1):
            existing.priority = 1
            existing.reason = reason
            session.add(existing)
            session.flush()
        return Requested(existing, ALREADY_QUEUED.format(reference=existing.reference), False)
    tier = current_tier(session, customer_id).value if customer_id else None
    open_now = is_open(now, settings.handoff_hours, settings.carrier_timezone)
    handoff = Handoff(
        conversation_id=conversation_id,
        customer_id=customer_id,
        reason=reason,
        tier=tier,
        priority=priority_for(reason, tier),
        status=HandoffStatus.waiting if open_now else HandoffStatus.callback,
        note=note[:2000],
        created_at=now,
        pickup_due_at=now + timedelta(minutes=settings.handoff_pickup_minutes),
        ended_at=None if open_now else now,
    )
    session.add(handoff)
    session.flush()
    if not open_now:
        template = CLOSED_DESK_URGENT if reason is Reason.threat else CLOSED_DESK
        text = template.format(
            hours=settings.handoff_hours,
            reference=handoff.reference,
            how=_contact_words(customer_id),
            phone=settings.support_phone,
        )
    else:
        minutes = wait_minutes(queue_position(session, handoff), settings)
        template = JOINING_URGENT if reason is Reason.threat else JOINING
        text = template.format(minutes=minutes, plural="" if minutes == 1 else "s")
    return Requested(handoff, text, True)


def waiting_queue(session: Session, limit: int = 100) -> list[Handoff]:
    """Waiting handoffs in the order agents should take them: priority, then oldest."""
    return list(
        session.exec(
            select(Handoff)
            .where(Handoff.status == HandoffStatus.waiting)
            .order_by(col(Handoff.priority), col(Handoff.created_at), col(Handoff.id))
            .limit(limit)
        ).all()
    )


def held_by(session: Session, agent_id: int) -> list[Handoff]:
    return list(
        session.exec(
            select(Handoff)
            .where(Handoff.status == HandoffStatus.held, Handoff.agent_id == agent_id)
            .order_by(col(Handoff.taken_at))
        ).all()
    )


def get_handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise LookupError(f"no handoff {handoff_id}")
    return handoff


def take(session: Session, handoff_id: int, agent: Identity, now: datetime | None = None) -> str:
    """The agent holds the conversation from now; returns what the customer is told.
    The row is updated only while still waiting, so two agents cannot both take it."""
    now = now or utcnow()
    handoff = get_handoff(session, handoff_id)
    result = session.connection().execute(
        Handoff.__table__.update()  # type: ignore[attr-defined]
        .where(Handoff.__table__.c.id == handoff_id)  # type: ignore[attr-defined]
        .where(Handoff.__table__.c.status == HandoffStatus.waiting.value)  # type: ignore[attr-defined]
        .values(
            status=HandoffStatus.held.value,
            agent_id=agent.agent_id,
            agent_name=agent.display_name,
            taken_at=now,
        )
    )
    if result.rowcount != 1:
        session.refresh(handoff)
        raise HandoffError(f"This conversation is {handoff.status.value} and cannot be taken.")
    session.refresh(handoff)
    return AGENT_JOINED.format(agent=agent.display_name)


def _end(
    session: Session,
    handoff_id: int,
    agent: Identity,
    status: HandoffStatus,
    template: str,
    now: datetime | None,
) -> tuple[Handoff, str]:
    handoff = get_handoff(session, handoff_id)
    holder = handoff.agent_id
    if handoff.status is not HandoffStatus.held or not may_work_handoff(agent, holder):
        raise HandoffError("Only the agent holding this conversation or a manager can end it.")
    # Only while still held by the same agent: the holder and a manager ending it at once
    # cannot both tell the customer.
    result = session.connection().execute(
        Handoff.__table__.update()  # type: ignore[attr-defined]
        .where(Handoff.__table__.c.id == handoff_id)  # type: ignore[attr-defined]
        .where(Handoff.__table__.c.status == HandoffStatus.held.value)  # type: ignore[attr-defined]
        .where(Handoff.__table__.c.agent_id == holder)  # type: ignore[attr-defined]
        .values(status=status.value, ended_at=now or utcnow())
    )
    session.refresh(handoff)
    if result.rowcount != 1:
        raise HandoffError(f"This conversation is {handoff.status.value} already.")
    return handoff, template.format(agent=agent.display_name)


def hand_back(
    session: Session, handoff_id: int, agent: Identity, now: datetime | None = None
) -> tuple[Handoff, str]:
    return _end(session, handoff_id, agent, HandoffStatus.returned, HANDED_BACK, now)


def close(
    session: Session, handoff_id: int, agent: Identity, now: datetime | None = None
) -> tuple[Handoff, str]:
    return _end(session, handoff_id, agent, HandoffStatus.closed, CLOSED_BY_AGENT, now)


def expire_waiting(
    session: Session, settings: Settings, now: datetime | None = None
) -> list[tuple[Handoff, str]]:
    """Waiting handoffs nobody took in time become call-back tickets; each with what the
    customer is to be told."""
    now = now or utcnow()
    # Every backend worker sweeps: a row another worker is expiring right now is skipped, so
    # each handoff becomes one ticket and its customer is told once (PostgreSQL; SQLite has
    # one writer at a time and ignores the clause).
    overdue = session.exec(
        select(Handoff)
        .where(Handoff.status == HandoffStatus.waiting, col(Handoff.pickup_due_at) <= now)
        .with_for_update(skip_locked=True)
    ).all()
    expired = []
    for handoff in overdue:
        handoff.status = HandoffStatus.callback
        handoff.ended_at = now
        session.add(handoff)
        text = TIMED_OUT.format(
            reference=handoff.reference, how=_contact_words(handoff.customer_id)
        )
        expired.append((handoff, text))
    session.flush()
    return expired
