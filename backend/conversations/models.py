"""The transcript table: one row per message shown in a conversation, in order of `id`."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.store.models import EnumText, UTCDateTime, utcnow


class Sender(StrEnum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    system = "system"  # notices of the gateway itself, e.g. "an agent has joined"


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_messages"
    # History and "recent conversations" both read one conversation's rows in id order.
    __table_args__ = (Index("ix_chat_messages_conversation", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=64)
    sender: Sender = Field(sa_type=EnumText(Sender))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Quick replies offered with the message: [{"title": ..., "payload": ...}].
    buttons: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    agent_name: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
