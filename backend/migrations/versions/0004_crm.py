"""CRM figures: current customer tiers, tier changes, churn risks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_customer_tiers",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("margin", sa.Float(), nullable=False),
        sa.Column("avg_revenue", sa.Float(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_crm_customer_tiers_tier", "crm_customer_tiers", ["tier"])

    op.create_table(
        "crm_tier_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("previous_tier", sa.String(length=1), nullable=True),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_crm_tier_changes_customer_id", "crm_tier_changes", ["customer_id", "changed_at"]
    )
    op.create_index("ix_crm_tier_changes_changed_at", "crm_tier_changes", ["changed_at"])

    op.create_table(
        "crm_churn_risks",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("suggested_action", sa.String(length=40), nullable=True),
        sa.Column("recent_shipments", sa.Integer(), nullable=False),
        sa.Column("expected_shipments", sa.Float(), nullable=False),
        sa.Column("days_since_last", sa.Float(), nullable=True),
        sa.Column("usual_gap_days", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_crm_churn_risks_score", "crm_churn_risks", ["score"])


def downgrade() -> None:
    op.drop_index("ix_crm_churn_risks_score", table_name="crm_churn_risks")
    op.drop_table("crm_churn_risks")
    op.drop_index("ix_crm_tier_changes_changed_at", table_name="crm_tier_changes")
    op.drop_index("ix_crm_tier_changes_customer_id", table_name="crm_tier_changes")
    op.drop_table("crm_tier_changes")
    op.drop_index("ix_crm_customer_tiers_tier", table_name="crm_customer_tiers")
    op.drop_table("crm_customer_tiers")
