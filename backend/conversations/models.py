"""The transcript table: one row per message of a conversation."""

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
    system = "system"


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_conversation", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=64)
    sender: Sender = Field(sa_type=EnumText(Sender, 16))
    text: str = Field(default="", sa_type=Text)
    buttons: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    agent_name: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
