"""automations: rules fired by the event log or by time in a status, one run per (automation,
event), the timers of TIME_IN_STATUS, and the AUTOMATION_APPLIED event type

Revision ID: 0016_automations
Revises: 0015_ticket_fields
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_automations"
down_revision: str | None = "0015_ticket_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES_ON_MAIN = (
    "'CREATED', 'UPDATED', 'STATUS_CHANGED', 'PRIORITY_CHANGED', 'ASSIGNED', 'UNASSIGNED', "
    "'COLLABORATOR_ADDED', 'COMMENTED', 'ATTACHMENT_ADDED', 'ESCALATED', 'SLA_WARNING', 'SLA_BREACHED', "
    "'SUB_TICKET_CREATED', 'SUB_TICKET_RESOLVED', 'LINKED', 'MERGED', 'RATED', 'EMAIL_FAILED', 'MACRO_APPLIED', "
    "'FIELD_CHANGED'"
)
_TRIGGERS = (
    "'TICKET_CREATED', 'TICKET_UPDATED', 'STATUS_CHANGED', 'CUSTOMER_REPLIED', 'AGENT_REPLIED', "
    "'SLA_WARNING', 'SLA_BREACHED', 'TIME_IN_STATUS'"
)


def _event_types(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", f"type IN ({allowed})")


def upgrade() -> None:
    _event_types(_EVENT_TYPES_ON_MAIN + ", 'AUTOMATION_APPLIED'")
    op.create_table(
        "automations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("after_seconds", sa.Integer(), nullable=True),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("stop_processing", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("fired_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"trigger IN ({_TRIGGERS})", name=op.f("ck_automations_trigger_valid")),
        sa.CheckConstraint("fired_count >= 0", name=op.f("ck_automations_fired_count_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
    )
    op.create_index("ix_automations_trigger_position", "automations", ["trigger", "position", "id"])
    op.create_table(
        "automation_runs",
        sa.Column("automation_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_runs_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["ticket_events.id"], name=op.f("fk_automation_runs_event_id_ticket_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("automation_id", "event_id", name=op.f("pk_automation_runs")),
    )
    op.create_index("ix_automation_runs_event_id", "automation_runs", ["event_id"])
    op.create_table(
        "automation_timers",
        sa.Column("automation_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_timers_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticket_events.id"],
            name=op.f("fk_automation_timers_event_id_ticket_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_automation_timers_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("automation_id", "event_id", name=op.f("pk_automation_timers")),
    )
    op.create_index("ix_automation_timers_due_at", "automation_timers", ["due_at"])
    op.create_index("ix_automation_timers_ticket_id", "automation_timers", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_automation_timers_ticket_id", table_name="automation_timers")
    op.drop_index("ix_automation_timers_due_at", table_name="automation_timers")
    op.drop_table("automation_timers")
    op.drop_index("ix_automation_runs_event_id", table_name="automation_runs")
    op.drop_table("automation_runs")
    op.drop_index("ix_automations_trigger_position", table_name="automations")
    op.drop_table("automations")
    op.execute("DELETE FROM ticket_events WHERE type = 'AUTOMATION_APPLIED'")
    _event_types(_EVENT_TYPES_ON_MAIN)
