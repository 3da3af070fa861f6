"""Complaint tickets and their history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("claimed_amount", sa.Float(), nullable=True),
        sa.Column("has_photos", sa.Boolean(), nullable=True),
        sa.Column("callback_channel", sa.String(length=20), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=False),
        sa.Column("compensation", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_complaint_tickets_reference", "complaint_tickets", ["reference"], unique=True
    )
    op.create_index("ix_complaint_tickets_customer_id", "complaint_tickets", ["customer_id"])
    op.create_index(
        "ix_complaint_tickets_status_due", "complaint_tickets", ["status", "sla_due_at"]
    )
    op.create_index(
        "ix_complaint_tickets_shipment_id", "complaint_tickets", ["shipment_id", "category"]
    )

    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["complaint_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_complaint_events_ticket_id", "complaint_events", ["ticket_id", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_events_ticket_id", table_name="complaint_events")
    op.drop_table("complaint_events")
    for index in ("shipment_id", "status_due", "customer_id", "reference"):
        op.drop_index(f"ix_complaint_tickets_{index}", table_name="complaint_tickets")
    op.drop_table("complaint_tickets")
