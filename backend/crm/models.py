"""Tables the CRM figures keep: each customer's current tier, the tier history (every change is
an event agents see), and the latest churn risk with its reasons.

The satisfaction index is not stored: it is one grouped query per source, fast enough to run
on each request.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from backend.store.models import EnumText, UTCDateTime, utcnow


class Tier(StrEnum):
    A = "A"  # VIP service: priority queue, fastest complaint SLA, first to a human
    B = "B"  # member service
    C = "C"  # standard service


class RiskLevel(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class CustomerTier(SQLModel, table=True):
    """The tier each customer holds now, with the figures it was computed from."""

    __tablename__ = "crm_customer_tiers"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True, ondelete="CASCADE")
    tier: Tier = Field(sa_type=EnumText(Tier, 1), index=True)
    score: float
    rank: int | None = None  # 1 = highest score; None for customers with no shipment in window
    shipments: int
    revenue: float
    margin: float
    avg_revenue: float
    since: datetime = Field(sa_type=UTCDateTime)  # when the customer entered this tier
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TierChange(SQLModel, table=True):
    """One row per tier a customer entered: the first assignment has no previous tier."""

    __tablename__ = "crm_tier_changes"
    __table_args__ = (Index("ix_crm_tier_changes_customer_id", "customer_id", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", ondelete="CASCADE")
    previous_tier: Tier | None = Field(default=None, sa_type=EnumText(Tier, 1))
    tier: Tier = Field(sa_type=EnumText(Tier, 1))
    score: float
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)


class ChurnRisk(SQLModel, table=True):
    """The latest churn risk of each customer who shipped in the window."""

    __tablename__ = "crm_churn_risks"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True, ondelete="CASCADE")
    score: float = Field(index=True)
    level: RiskLevel = Field(sa_type=EnumText(RiskLevel, 10))
    reasons: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    suggested_action: str | None = Field(default=None, max_length=40)
    recent_shipments: int
    expected_shipments: float
    days_since_last: float | None = None
    usual_gap_days: float | None = None
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
