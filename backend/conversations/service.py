"""Writing and reading the transcript. Callers own the session and commit it.

The conversation id is the customer's bearer secret: these functions are for the gateway and
for agents; nothing here may be exposed to shippers as a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.conversations.models import ChatMessage, Sender
from backend.store.models import as_utc


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: str
    last_message_at: datetime
    message_count: int


def record_message(
    session: Session,
    conversation_id: str,
    sender: str,
    text: str,
    buttons: list[dict[str, Any]] | None = None,
    agent_name: str | None = None,
) -> ChatMessage:
    """Add one message to the transcript (flushed, so its id is known; not committed)."""
    message = ChatMessage(
        conversation_id=conversation_id,
        sender=Sender(sender),
        text=text,
        buttons=buttons or None,
        agent_name=agent_name,
    )
    session.add(message)
    session.flush()
    return message


def conversation_history(
    session: Session, conversation_id: str, limit: int = 200, after_id: int = 0
) -> list[ChatMessage]:
    """The last `limit` messages of the conversation (those after `after_id`), oldest first."""
    newest_first = session.exec(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation_id, col(ChatMessage.id) > after_id)
        .order_by(col(ChatMessage.id).desc())
        .limit(limit)
    ).all()
    return list(reversed(newest_first))


def offered_buttons(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    """The quick replies the latest bot messages offer: those of every message after the
    customer's last one (a turn may say several things; a proactive survey question or an
    agent's message may come between turns)."""
    last_customer = (
        select(func.coalesce(func.max(ChatMessage.id), 0))
        .where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.sender == Sender.customer,
        )
        .scalar_subquery()
    )
    rows = session.exec(
        select(ChatMessage.buttons).where(
            ChatMessage.conversation_id == conversation_id, col(ChatMessage.id) > last_customer
        )
    ).all()
    return [button for buttons in rows for button in buttons or []]


def recent_conversations(session: Session, limit: int = 50) -> list[ConversationSummary]:
    """Conversations by their latest message, newest first."""
    last = func.max(ChatMessage.created_at).label("last_message_at")
    rows = session.exec(
        select(ChatMessage.conversation_id, last, func.count(col(ChatMessage.id)))
        .group_by(col(ChatMessage.conversation_id))
        .order_by(last.desc())
        .limit(limit)
    ).all()
    return [ConversationSummary(cid, as_utc(at), count) for cid, at, count in rows]
