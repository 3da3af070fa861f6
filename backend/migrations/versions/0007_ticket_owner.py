"""Complaint tickets name the console account that owns them, not only its display name.

Revision ID: 0007_ticket_owner
Revises: 0006_agents_handoff
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ticket_owner"
down_revision: str | Sequence[str] | None = "0006_agents_handoff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite adds a column with a foreign key only by rebuilding the table.
    with op.batch_alter_table("complaint_tickets") as batch:
        batch.add_column(sa.Column("owner_agent_id", sa.Integer(), nullable=True))
        batch.create_index("ix_complaint_tickets_owner_agent_id", ["owner_agent_id"])
        batch.create_foreign_key(
            "fk_complaint_tickets_owner_agent_id",
            "agents",
            ["owner_agent_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("complaint_tickets") as batch:
        batch.drop_constraint("fk_complaint_tickets_owner_agent_id", type_="foreignkey")
        batch.drop_index("ix_complaint_tickets_owner_agent_id")
        batch.drop_column("owner_agent_id")
