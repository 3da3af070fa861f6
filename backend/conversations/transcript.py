"""Write and read transcripts (in the caller's session; `record_message` only flushes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.conversations.models import ChatMessage, Sender


def record_message(
    session: Session,
    conversation_id: str,
    sender: Sender | str,
    text: str,
    buttons: list[dict[str, Any]] | None = None,
    agent_name: str | None = None,
) -> ChatMessage:
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
    """The last `limit` messages (after `after_id` when given), oldest first."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation_id, col(ChatMessage.id) > after_id)
        .order_by(col(ChatMessage.id).desc())
        .limit(limit)
    )
    return list(reversed(session.exec(query).all()))


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: str
    messages: int
    started_at: datetime
    last_at: datetime


def recent_conversations(session: Session, limit: int = 50) -> list[ConversationSummary]:
    """Conversations with the most recent activity first."""
    last = func.max(ChatMessage.created_at)
    rows = session.exec(
        select(  # type: ignore[call-overload]
            ChatMessage.conversation_id, func.count(), func.min(ChatMessage.created_at), last
        )
        .group_by(ChatMessage.conversation_id)
        .order_by(last.desc())
        .limit(limit)
    ).all()
    return [ConversationSummary(*row) for row in rows]
