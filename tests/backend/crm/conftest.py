"""Small hand-built stores for the CRM figures, on SQLite and PostgreSQL (store_url):
customers, shipments, complaint tickets and survey answers with only the fields a test needs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from backend.complaints.models import (
    CallbackChannel,
    Category,
    ComplaintEvent,
    ComplaintTicket,
    TicketEventKind,
    TicketStatus,
)
from backend.crm.models import Tier
from backend.store import tracking_numbers
from backend.store.db import get_engine
from backend.store.models import Customer, CustomerKind, ServiceLevel, Shipment, ShipmentStatus
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation, SurveyKind

# A Wednesday, midday UTC.
AS_OF = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)


class Store:
    """Adds customers and shipments with only the fields a test cares about."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = get_engine(url)
        self._customers = 0
        self._shipments = 0
        self._surveys = 0

    def customer(
        self, joined_days_ago: float = 800, manager: str = "Tom Whitaker", name: str = ""
    ) -> int:
        self._customers += 1
        number = self._customers
        with self.engine.begin() as connection:
            result = connection.execute(
                insert(Customer).values(
                    code=f"CU{number:05d}",
                    name=name or f"Customer {number}",
                    kind=CustomerKind.business,
                    contact_name="Ava Shaw",
                    phone="+441134960001",
                    email=f"c{number}@example.com",
                    city="Leeds",
                    region="Yorkshire and the Humber",
                    account_manager=manager,
                    created_at=AS_OF - timedelta(days=joined_days_ago),
                )
            )
            return result.inserted_primary_key[0]

    def ship(self, customer_id: int, days_ago: float | list[float], **fields: Any) -> None:
        moments = days_ago if isinstance(days_ago, list) else [days_ago]
        rows = []
        for days in moments:
            self._shipments += 1
            shipped = fields.get("shipped_at") or AS_OF - timedelta(days=days)
            rows.append(
                {
                    "tracking_number": tracking_numbers.make("LP", self._shipments, "GB"),
                    "customer_id": customer_id,
                    "consignee_name": "Ruby Clarke",
                    "consignee_phone": "+447700900123",
                    "consignee_address": "12 Mill Lane",
                    "consignee_city": "Manchester",
                    "consignee_postcode": "M14 5RF",
                    "origin_city": "Leeds",
                    "destination_city": "Manchester",
                    "destination_region": "North West",
                    "service_level": ServiceLevel.standard,
                    "weight_kg": 2.0,
                    "declared_value": 40.0,
                    "revenue": 10.0,
                    "cost": 8.0,
                    "promised_date": shipped.date() + timedelta(days=2),
                    "status": ShipmentStatus.delivered,
                    "delivered_at": shipped + timedelta(days=1),
                    "damaged": False,
                    "updated_at": shipped,
                }
                | {k: v for k, v in fields.items() if k != "shipped_at"}
                | {"shipped_at": shipped}
            )
        with self.engine.begin() as connection:
            connection.execute(insert(Shipment), rows)

    def shipment_ids(self, customer_id: int) -> list[int]:
        with self.engine.connect() as connection:
            found = select(Shipment.id).where(Shipment.customer_id == customer_id)
            return list(connection.execute(found.order_by(Shipment.id)).scalars())

    def complaint(
        self,
        customer_id: int | None,
        shipment_id: int | None,
        filed: datetime,
        *,
        hours: float = 48,
        closed: datetime | None = None,
        status: TicketStatus | None = None,
        category: Category = Category.late_delivery,
    ) -> int:
        """A ticket filed at `filed` with an answer deadline `hours` later, closed at `closed`
        (resolved unless `status` says otherwise)."""
        status = status or (TicketStatus.resolved if closed else TicketStatus.open)
        with self.engine.begin() as connection:
            ticket = connection.execute(
                insert(ComplaintTicket).values(
                    customer_id=customer_id,
                    shipment_id=shipment_id,
                    category=category,
                    description="Late again",
                    callback_channel=CallbackChannel.email,
                    tier=Tier.C,
                    priority=3,
                    queue="customer-care",
                    status=status,
                    sla_due_at=filed + timedelta(hours=hours),
                    created_at=filed,
                    updated_at=closed or filed,
                )
            ).inserted_primary_key[0]
            events = [{"kind": TicketEventKind.created, "at": filed, "to": TicketStatus.open}]
            if closed is not None:
                events.append({"kind": TicketEventKind.resolved, "at": closed, "to": status})
            for event in events:
                connection.execute(
                    insert(ComplaintEvent).values(
                        ticket_id=ticket,
                        occurred_at=event["at"],
                        author="Priya Shah",
                        kind=event["kind"],
                        to_status=event["to"],
                    )
                )
            return ticket

    def survey(
        self,
        shipment_id: int,
        sent: datetime,
        answers: dict[str, int | None] | None = None,
        *,
        customer_id: int | None = None,
        opted_out: bool = False,
    ) -> None:
        """A post-delivery invitation sent at `sent`, with `answers` (None: a skip)."""
        self._surveys += 1
        with self.engine.begin() as connection:
            invitation = connection.execute(
                insert(SurveyInvitation).values(
                    token=f"token-{self._surveys}",
                    kind=SurveyKind.delivery,
                    shipment_id=shipment_id,
                    customer_id=customer_id,
                    contact="+447700900123",
                    status=InvitationStatus.opted_out if opted_out else InvitationStatus.pending,
                    created_at=sent,
                    expires_at=sent + timedelta(days=7),
                )
            ).inserted_primary_key[0]
            for question, score in (answers or {}).items():
                connection.execute(
                    insert(SurveyAnswer).values(
                        invitation_id=invitation,
                        question=question,
                        score=score,
                        skipped=score is None,
                        answered_at=sent + timedelta(hours=2),
                    )
                )


@pytest.fixture
def store(store_url: str) -> Store:
    return Store(store_url)


def day(text: str) -> date:
    return date.fromisoformat(text)
