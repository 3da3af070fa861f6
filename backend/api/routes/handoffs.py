"""Agents' side of the handoff: the queue, taking a conversation, replying, handing back or
closing, and reading transcripts (with `after` for live polling). Agents and managers alike
read every conversation; only the agent holding one, or a manager, may reply in it or end it
(backend/agents/permissions.py).

A background task turns handoffs nobody took in time into call-back tickets
(`HANDOFF_SWEEP_SECONDS`), telling the customer so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.agents.models import Agent
from backend.agents.permissions import may_work_handoff
from backend.agents.service import Identity
from backend.api.rasa_gateway import RasaGateway
from backend.api.routes import MAX_ROW_ID, GatewayDep, RowId, SessionDep
from backend.api.routes.auth import AGENT_REFUSALS, AgentDep
from backend.api.schemas import CONVERSATION_ID_PATTERN, BotMessage, refusal
from backend.conversations import ChatMessage, conversation_history, recent_conversations
from backend.handoff import service
from backend.handoff.models import Handoff, HandoffStatus, Reason
from backend.store.models import Customer, utcnow

logger = logging.getLogger("backend.handoff")
MAX_REPLY_CHARS = 2000


@asynccontextmanager
async def sweep(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    task = None
    if settings.handoff_sweep_seconds > 0:
        task = asyncio.create_task(_sweep_loop(app, settings.handoff_sweep_seconds))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def expire_and_tell(engine: Engine, gateway: RasaGateway, settings: object) -> int:
    """One sweep: overdue handoffs become call-back tickets and the customer is told."""
    with Session(engine) as session:
        expired = service.expire_waiting(session, settings)  # type: ignore[arg-type]
        session.commit()
        told = [(h.conversation_id, text) for h, text in expired]
    for conversation_id, text in told:
        gateway.push(conversation_id, BotMessage(text=text), sender="system")
    return len(told)


async def _sweep_loop(app: FastAPI, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            done = await asyncio.to_thread(
                expire_and_tell, app.state.engine, app.state.gateway, app.state.settings
            )
            if done:
                logger.info("%d handoff(s) turned into call-back tickets", done)
        except Exception as exc:  # the sweep must outlive a database that is down
            logger.warning("handoff sweep failed: %s: %s", type(exc).__name__, exc)


router = APIRouter(
    prefix="/api/agent",
    tags=["handoff (agents)"],
    lifespan=sweep,
    responses=AGENT_REFUSALS
    | {
        403: refusal("Another agent holds this conversation."),
        404: refusal("No such handoff."),
        409: refusal("Not possible in the handoff's state."),
    },
)


class HandoffOut(BaseModel):
    id: int
    reference: str
    conversation_id: str
    reason: Reason
    priority: int
    tier: str | None
    status: HandoffStatus
    customer_code: str | None
    customer_name: str | None
    note: str
    created_at: datetime
    waiting_minutes: int
    minutes_to_callback: int = Field(description="Until it becomes a call-back ticket.")
    agent_name: str | None
    agent_username: str | None = Field(description="The console account holding it, if any.")


class QueueOut(BaseModel):
    waiting: list[HandoffOut]
    mine: list[HandoffOut]


class MessageOut(BaseModel):
    id: int
    sender: str
    text: str
    agent_name: str | None
    created_at: datetime


class ConversationOut(BaseModel):
    conversation_id: str
    handoff: HandoffOut | None
    messages: list[MessageOut]


class ConversationSummaryOut(BaseModel):
    conversation_id: str
    last_message_at: datetime
    message_count: int


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)


def handoff_out(session: Session, handoff: Handoff, now: datetime | None = None) -> HandoffOut:
    now = now or utcnow()
    customer = session.get(Customer, handoff.customer_id) if handoff.customer_id else None
    holder = session.get(Agent, handoff.agent_id) if handoff.agent_id else None
    assert handoff.id is not None
    return HandoffOut(
        id=handoff.id,
        reference=handoff.reference,
        conversation_id=handoff.conversation_id,
        reason=handoff.reason,
        priority=handoff.priority,
        tier=handoff.tier,
        status=handoff.status,
        customer_code=customer.code if customer else None,
        customer_name=customer.name if customer else None,
        note=handoff.note,
        created_at=handoff.created_at,
        waiting_minutes=int((now - handoff.created_at).total_seconds() // 60),
        minutes_to_callback=int((handoff.pickup_due_at - now).total_seconds() // 60),
        agent_name=handoff.agent_name,
        agent_username=holder.username if holder else None,
    )


def message_out(message: ChatMessage) -> MessageOut:
    assert message.id is not None
    return MessageOut(
        id=message.id,
        sender=message.sender.value,
        text=message.text,
        agent_name=message.agent_name,
        created_at=message.created_at,
    )


def _get(session: Session, handoff_id: int) -> Handoff:
    try:
        return service.get_handoff(session, handoff_id)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such handoff.") from None


def _held_for(session: Session, handoff_id: int, identity: Identity) -> Handoff:
    """The held handoff, if the caller may work it (its holder, or a manager); else 403/409."""
    handoff = _get(session, handoff_id)
    if handoff.status is not HandoffStatus.held:
        raise HTTPException(status.HTTP_409_CONFLICT, f"This conversation is {handoff.status}.")
    if not may_work_handoff(identity, handoff.agent_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{handoff.agent_name or 'Another agent'} holds this conversation: only they or a "
            "manager can reply in it or end it.",
        )
    return handoff


@router.get("/handoffs", response_model=QueueOut, summary="Handoffs waiting, and mine")
def queue(session: SessionDep, identity: AgentDep) -> QueueOut:
    """Waiting handoffs in the order to take them (priority, then oldest), with reason, tier,
    waiting time and time to call-back; and the conversations the caller holds.
    """
    now = utcnow()
    return QueueOut(
        waiting=[handoff_out(session, h, now) for h in service.waiting_queue(session)],
        mine=[handoff_out(session, h, now) for h in service.held_by(session, identity.agent_id)],
    )


@router.post("/handoffs/{handoff_id}/take", response_model=HandoffOut, summary="Take it")
def take(
    handoff_id: RowId, session: SessionDep, identity: AgentDep, gateway: GatewayDep
) -> HandoffOut:
    """The agent holds the conversation from now (the bot stops answering); the customer is told
    who joined. 409 when it is no longer waiting.
    """
    _get(session, handoff_id)
    try:
        text = service.take(session, handoff_id, identity)
    except service.HandoffError as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    session.commit()
    handoff = _get(session, handoff_id)
    gateway.push(handoff.conversation_id, BotMessage(text=text), sender="system")
    return handoff_out(session, handoff)


@router.post("/handoffs/{handoff_id}/reply", response_model=MessageOut, summary="Reply")
def reply(
    handoff_id: RowId, body: ReplyIn, session: SessionDep, identity: AgentDep, gateway: GatewayDep
) -> MessageOut:
    """Sends the holding agent's (or a manager's) words to the customer's chat and the
    transcript. 403 for another agent, 409 when not held.
    """
    handoff = _held_for(session, handoff_id, identity)
    text = body.text.strip()
    if not text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "The reply is empty.")
    gateway.push(
        handoff.conversation_id, BotMessage(text=text), sender="agent",
        agent_name=identity.display_name,
    )  # fmt: skip
    last = conversation_history(session, handoff.conversation_id, limit=1)
    return message_out(last[-1])


def _end(
    handoff_id: int, session: Session, identity: Identity, gateway: RasaGateway, closing: bool
) -> HandoffOut:
    _held_for(session, handoff_id, identity)
    end = service.close if closing else service.hand_back
    try:
        handoff, text = end(session, handoff_id, identity)
    except service.HandoffError as refused:  # ended by someone else in the meantime
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    session.commit()
    gateway.push(handoff.conversation_id, BotMessage(text=text), sender="system")
    return handoff_out(session, handoff)


@router.post(
    "/handoffs/{handoff_id}/hand-back", response_model=HandoffOut, summary="Back to the bot"
)
def hand_back(
    handoff_id: RowId, session: SessionDep, identity: AgentDep, gateway: GatewayDep
) -> HandoffOut:
    """Ends the handoff; the bot answers the customer again. The holding agent or a manager."""
    return _end(handoff_id, session, identity, gateway, closing=False)


@router.post("/handoffs/{handoff_id}/close", response_model=HandoffOut, summary="Close it")
def close(
    handoff_id: RowId, session: SessionDep, identity: AgentDep, gateway: GatewayDep
) -> HandoffOut:
    """Ends the handoff and the conversation. The holding agent or a manager."""
    return _end(handoff_id, session, identity, gateway, closing=True)


ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN)]


@router.get(
    "/conversations",
    response_model=list[ConversationSummaryOut],
    summary="Recent conversations",
)
def conversations(
    session: SessionDep, _identity: AgentDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[ConversationSummaryOut]:
    """Conversations with a transcript, most recent activity first."""
    return [ConversationSummaryOut(**vars(c)) for c in recent_conversations(session, limit=limit)]


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="A transcript (messages after `after` only, for live polling)",
)
def conversation(
    conversation_id: ConversationId,
    session: SessionDep,
    _identity: AgentDep,
    after: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> ConversationOut:
    """The transcript, oldest first, with the conversation's handoff; `after` returns only newer
    messages (the console polls with it).
    """
    handoff = service.open_handoff(session, conversation_id)
    if handoff is None:
        handoff = session.exec(
            Handoff.__table__.select()  # type: ignore[attr-defined]
            .where(Handoff.__table__.c.conversation_id == conversation_id)  # type: ignore[attr-defined]
            .order_by(Handoff.__table__.c.id.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        handoff = _get(session, handoff.id) if handoff is not None else None
    return ConversationOut(
        conversation_id=conversation_id,
        handoff=handoff_out(session, handoff) if handoff else None,
        messages=[
            message_out(m) for m in conversation_history(session, conversation_id, after_id=after)
        ],
    )
