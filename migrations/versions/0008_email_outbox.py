"""email outbox: the deliveries table (replies, acknowledgements, system mail) and the
EMAIL_FAILED event type

Revision ID: 0008_email_outbox
Revises: 0007_email_ingest
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_email_outbox"
down_revision: str | None = "0007_email_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES_V1 = (
    "'CREATED', 'UPDATED', 'STATUS_CHANGED', 'PRIORITY_CHANGED', 'ASSIGNED', 'UNASSIGNED', "
    "'COLLABORATOR_ADDED', 'COMMENTED', 'ATTACHMENT_ADDED', 'ESCALATED', 'SLA_WARNING', 'SLA_BREACHED', "
    "'SUB_TICKET_CREATED', 'SUB_TICKET_RESOLVED', 'LINKED', 'MERGED', 'RATED'"
)


def _event_types(allowed: str) -> None:
    op.drop_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_type_valid"), "ticket_events", f"type IN ({allowed})")


def upgrade() -> None:
    _event_types(_EVENT_TYPES_V1 + ", 'EMAIL_FAILED'")
    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("mailbox_id", sa.BigInteger(), nullable=True),
        sa.Column("to_addresses", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column(
            "thread_references", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('REPLY', 'ACKNOWLEDGEMENT', 'SYSTEM')", name=op.f("ck_email_deliveries_kind_valid")
        ),
        sa.CheckConstraint(
            "status IN ('QUEUED', 'SENT', 'FAILED', 'SUPPRESSED')", name=op.f("ck_email_deliveries_status_valid")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_email_deliveries_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_email_deliveries_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_email_deliveries_comment_id_comments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_email_deliveries_mailbox_id_mailboxes"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_deliveries")),
    )
    op.create_index("uq_email_deliveries_message_id", "email_deliveries", ["message_id"], unique=True)
    op.create_index(
        "uq_email_deliveries_comment",
        "email_deliveries",
        ["comment_id"],
        unique=True,
        postgresql_where=sa.text("comment_id IS NOT NULL"),
    )
    op.create_index(
        "ix_email_deliveries_due",
        "email_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'QUEUED'"),
    )
    op.create_index("ix_email_deliveries_ticket", "email_deliveries", ["ticket_id", "id"])
    op.create_index("ix_email_deliveries_to", "email_deliveries", ["to_addresses"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("email_deliveries")
    op.execute("DELETE FROM ticket_events WHERE type = 'EMAIL_FAILED'")
    _event_types(_EVENT_TYPES_V1)
