"""Tables of the customer store: customers, their shipments, tracking events, address changes.

Enumerations are stored as plain strings (no database enum types, so adding a value needs no
migration) and read back as enum members. Datetimes are timezone-aware UTC in Python on every
database: SQLite keeps no offset, so values are normalised to UTC on the way in and marked UTC on
the way out.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """`timestamp with time zone` that only accepts and returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(moment: datetime | str) -> datetime:
    """A stored moment as an aware UTC datetime. SQLite hands times back naive (and, from
    aggregates that bypass the column type, as ISO text); they are UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum kept as VARCHAR; unknown values are refused before they reach the database."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, self.enum):
            return value
        return self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class CustomerKind(StrEnum):
    business = "business"
    private = "private"


class ServiceLevel(StrEnum):
    standard = "standard"
    express = "express"
    same_day = "same_day"
    freight = "freight"


class ShipmentStatus(StrEnum):
    label_created = "label_created"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivery_failed = "delivery_failed"
    delivered = "delivered"
    returning = "returning"
    returned = "returned"
    lost = "lost"


class EventCode(StrEnum):
    LC = "LC"  # label created
    PU = "PU"  # picked up from the sender
    AR = "AR"  # arrived at a facility
    DP = "DP"  # departed a facility
    OD = "OD"  # out for delivery
    DF = "DF"  # delivery attempt failed
    DL = "DL"  # delivered
    DM = "DM"  # damage reported
    RT = "RT"  # returning to sender
    RS = "RS"  # returned to sender
    LS = "LS"  # declared lost


class AddressChangeStatus(StrEnum):
    pending = "pending"
    applied = "applied"
    rejected = "rejected"


class Channel(StrEnum):
    chat = "chat"
    phone = "phone"


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)  # e.g. CU00042
    name: str = Field(max_length=200)
    kind: CustomerKind = Field(sa_type=EnumText(CustomerKind))
    contact_name: str = Field(max_length=200)
    phone: str = Field(max_length=32)  # E.164, e.g. +447700900123
    email: str = Field(max_length=254)
    city: str = Field(max_length=100)
    region: str = Field(max_length=100)
    account_manager: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"

    id: int | None = Field(default=None, primary_key=True)
    tracking_number: str = Field(max_length=16, unique=True, index=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    consignee_name: str = Field(max_length=200)
    consignee_phone: str = Field(max_length=32)
    consignee_address: str = Field(max_length=300)  # street line
    consignee_city: str = Field(max_length=100)
    consignee_postcode: str = Field(max_length=10)
    origin_city: str = Field(max_length=100)
    destination_city: str = Field(max_length=100)
    destination_region: str = Field(max_length=100)
    service_level: ServiceLevel = Field(sa_type=EnumText(ServiceLevel))
    weight_kg: float
    declared_value: float  # GBP
    revenue: float  # GBP
    cost: float  # GBP
    shipped_at: datetime = Field(sa_type=UTCDateTime, index=True)
    promised_date: date
    status: ShipmentStatus = Field(sa_type=EnumText(ShipmentStatus), index=True)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    damaged: bool = False
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"onupdate": utcnow}
    )


class TrackingEvent(SQLModel, table=True):
    __tablename__ = "tracking_events"
    # One index serves both "events of this shipment" and their chronological order.
    __table_args__ = (Index("ix_tracking_events_shipment_id", "shipment_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", ondelete="CASCADE")
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    location: str = Field(max_length=100)  # city or facility, e.g. "Birmingham hub"
    status_code: EventCode = Field(sa_type=EnumText(EventCode, 4))
    description: str = Field(max_length=300)


class AddressChangeRequest(SQLModel, table=True):
    __tablename__ = "address_change_requests"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True, ondelete="CASCADE")
    new_address: str = Field(max_length=500)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: AddressChangeStatus = Field(
        default=AddressChangeStatus.pending, sa_type=EnumText(AddressChangeStatus)
    )
    conversation_id: str = Field(max_length=100)
    channel: Channel = Field(default=Channel.chat, sa_type=EnumText(Channel))


class SeedInfo(SQLModel, table=True):
    """Marks a database filled by `backend.store.seed`, with the parameters used."""

    __tablename__ = "seed_info"

    id: int | None = Field(default=None, primary_key=True)
    seed: int
    customers: int
    shipments: int
    anchor: datetime = Field(sa_type=UTCDateTime)
    seeded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
