"""Tables of complaint tickets and their history.

A ticket's public reference (`C-26-00123`) is derived from its primary key and the year it was
filed, so two conversations filing at the same moment always get distinct references: the
database hands out the key. Every status change, note, merge and resolution is an event row
with its time and author; the ticket row holds the current state for fast listing.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from backend.crm.models import Tier  # the customer's value tier, computed by the CRM
from backend.store.models import EnumText, UTCDateTime, utcnow


class Category(StrEnum):
    late_delivery = "late_delivery"
    damaged = "damaged"
    lost = "lost"
    misdelivery = "misdelivery"
    billing = "billing"
    courier_conduct = "courier_conduct"
    other = "other"


class TicketStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    waiting_for_customer = "waiting_for_customer"
    resolved = "resolved"
    rejected = "rejected"


class CallbackChannel(StrEnum):
    phone = "phone"
    email = "email"
    chat = "chat"


class TicketEventKind(StrEnum):
    created = "created"
    status = "status"
    note = "note"
    merged = "merged"
    resolved = "resolved"
    assigned = "assigned"  # given to an agent (the note says to whom and by whom)


class ComplaintTicket(SQLModel, table=True):
    __tablename__ = "complaint_tickets"
    __table_args__ = (
        Index("ix_complaint_tickets_status_due", "status", "sla_due_at"),
        Index("ix_complaint_tickets_shipment_id", "shipment_id", "category"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Set from the id in the same transaction that inserts the row (see service.file_complaint).
    reference: str | None = Field(default=None, max_length=16, unique=True, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipments.id")
    category: Category = Field(sa_type=EnumText(Category))
    description: str = Field(sa_type=Text)
    claimed_amount: float | None = None  # GBP
    has_photos: bool | None = None
    callback_channel: CallbackChannel = Field(sa_type=EnumText(CallbackChannel))
    contact: str = Field(default="", max_length=254)  # phone or e-mail for the callback
    tier: Tier = Field(sa_type=EnumText(Tier, 1))
    priority: int  # 1 (most urgent) to 3
    queue: str = Field(max_length=40)  # where the ticket waits: "vip-desk", "claims", ...
    owner: str | None = Field(default=None, max_length=100)  # the agent who took it
    # The console account that owns it: only it or a manager may change the ticket. None while
    # unassigned, and for owners without an account (the seeded history's staff).
    owner_agent_id: int | None = Field(
        default=None, foreign_key="agents.id", index=True, ondelete="SET NULL"
    )
    status: TicketStatus = Field(default=TicketStatus.open, sa_type=EnumText(TicketStatus, 24))
    sla_due_at: datetime = Field(sa_type=UTCDateTime)
    conversation_id: str = Field(default="", max_length=100)
    compensation: float | None = None  # GBP, set on resolution where it applies
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ComplaintEvent(SQLModel, table=True):
    __tablename__ = "complaint_events"
    __table_args__ = (Index("ix_complaint_events_ticket_id", "ticket_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="complaint_tickets.id", ondelete="CASCADE")
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    author: str = Field(max_length=100)  # "assistant", "customer", or the agent's name
    kind: TicketEventKind = Field(sa_type=EnumText(TicketEventKind))
    from_status: TicketStatus | None = Field(default=None, sa_type=EnumText(TicketStatus, 24))
    to_status: TicketStatus | None = Field(default=None, sa_type=EnumText(TicketStatus, 24))
    note: str = Field(default="", sa_type=Text)
