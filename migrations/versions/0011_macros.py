"""macros: canned replies with actions (shared or personal) and the MACRO_APPLIED event type

Revision ID: 0011_macros
Revises: 0010_mail_quarantine_retry
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_macros"
down_revision: str | None = "0010_mail_quarantine_retry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES_ON_MAIN = (
    "'CREATED', 'UPDATED', 'STATUS_CHANGED', 'PRIORITY_CHANGED', 'ASSIGNED', 'UNASSIGNED', "
    "'COLLABORATOR_ADDED', 'COMMENTED', 'ATTACHMENT_ADDED', 'ESCALATED', 'SLA_WARNING', 'SLA_BREACHED', "
    "'SUB_TICKET_CREATED', 'SUB_TICKET_RESOLVED', 'LINKED', 'MERGED', 'RATED', 'EMAIL_FAILED'"
)


def _event_types(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", f"type IN ({allowed})")


def upgrade() -> None:
    _event_types(_EVENT_TYPES_ON_MAIN + ", 'MACRO_APPLIED'")
    op.create_table(
        "macros",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("owner_agent_id", sa.BigInteger(), nullable=True),
        sa.Column("usage_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("visibility IN ('PUBLIC', 'INTERNAL')", name=op.f("ck_macros_visibility_valid")),
        sa.CheckConstraint("usage_count >= 0", name=op.f("ck_macros_usage_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["owner_agent_id"], ["agents.id"], name=op.f("fk_macros_owner_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
    )
    op.create_index("ix_macros_owner_agent_id", "macros", ["owner_agent_id"])


def downgrade() -> None:
    op.drop_index("ix_macros_owner_agent_id", table_name="macros")
    op.drop_table("macros")
    op.execute("DELETE FROM ticket_events WHERE type = 'MACRO_APPLIED'")
    _event_types(_EVENT_TYPES_ON_MAIN)
