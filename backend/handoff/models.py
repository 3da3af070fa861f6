"""The handoff queue: one row per request for a person, from waiting to its end.

    waiting ──take──▶ held ──hand back──▶ returned (the bot answers again)
       │                 └──close───────▶ closed
       └── nobody took it in time, or outside opening hours ──▶ callback (a call-back ticket)

The public reference (`H-26-00012`, year and id) is what the customer quotes for a call-back.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from backend.store.models import EnumText, UTCDateTime, utcnow


class Reason(StrEnum):
    asked = "asked"  # the customer asked for a person
    not_understood = "not_understood"  # two messages in a row the bot could not place
    vip_complaint = "vip_complaint"  # an A-tier customer's complaint
    threat = "threat"  # a threat or a safety issue, anywhere in the conversation


class HandoffStatus(StrEnum):
    waiting = "waiting"
    held = "held"
    returned = "returned"
    closed = "closed"
    callback = "callback"


OPEN_STATUSES = (HandoffStatus.waiting, HandoffStatus.held)


class Handoff(SQLModel, table=True):
    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_priority", "status", "priority", "created_at"),
        Index("ix_handoffs_conversation_id", "conversation_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=64)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    reason: Reason = Field(sa_type=EnumText(Reason, 20))
    tier: str | None = Field(default=None, max_length=1)  # the customer's tier when asked
    priority: int  # 1 (first) to 3
    status: HandoffStatus = Field(sa_type=EnumText(HandoffStatus, 16))
    note: str = Field(default="", sa_type=Text)  # what the customer said when it started
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    pickup_due_at: datetime = Field(sa_type=UTCDateTime)  # untaken by then: a call-back
    taken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    agent_id: int | None = Field(default=None, foreign_key="agents.id")
    agent_name: str | None = Field(default=None, max_length=100)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def reference(self) -> str:
        return f"H-{self.created_at:%y}-{self.id:05d}"
