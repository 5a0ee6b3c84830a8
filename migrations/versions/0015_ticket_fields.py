"""ticket fields: defined custom fields, the GIN index behind TicketFilter.customFields,
RoutingRule.matchCustomFields and the FIELD_CHANGED event type

Revision ID: 0015_ticket_fields
Revises: 0014_customer_data
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_ticket_fields"
down_revision: str | None = "0014_customer_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES_ON_MAIN = (
    "'CREATED', 'UPDATED', 'STATUS_CHANGED', 'PRIORITY_CHANGED', 'ASSIGNED', 'UNASSIGNED', "
    "'COLLABORATOR_ADDED', 'COMMENTED', 'ATTACHMENT_ADDED', 'ESCALATED', 'SLA_WARNING', 'SLA_BREACHED', "
    "'SUB_TICKET_CREATED', 'SUB_TICKET_RESOLVED', 'LINKED', 'MERGED', 'RATED', 'EMAIL_FAILED', 'MACRO_APPLIED'"
)


def _event_types(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", f"type IN ({allowed})")


def upgrade() -> None:
    _event_types(_EVENT_TYPES_ON_MAIN + ", 'FIELD_CHANGED'")
    op.create_table(
        "ticket_field_definitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("options", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("required_on_create", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("required_for_status", sa.String(length=16), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("visible_to_customer", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "type IN ('TEXT', 'NUMBER', 'DATE', 'DROPDOWN', 'CHECKBOX')",
            name=op.f("ck_ticket_field_definitions_type_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_field_definitions")),
    )
    op.create_index("uq_ticket_field_definitions_key", "ticket_field_definitions", ["key"], unique=True)
    op.add_column(
        "routing_rules",
        sa.Column(
            "match_custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_tickets_custom_fields",
        "tickets",
        ["custom_fields"],
        postgresql_using="gin",
        postgresql_ops={"custom_fields": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_custom_fields", table_name="tickets")
    op.drop_column("routing_rules", "match_custom_fields")
    op.drop_index("uq_ticket_field_definitions_key", table_name="ticket_field_definitions")
    op.drop_table("ticket_field_definitions")
    op.execute("DELETE FROM ticket_events WHERE type = 'FIELD_CHANGED'")
    _event_types(_EVENT_TYPES_ON_MAIN)
