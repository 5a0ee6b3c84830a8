"""email ingest: mailboxes, inbound messages (duplicate guard, threading), quarantine, and the
mail columns of tickets, comments and customers

Revision ID: 0007_email_ingest
Revises: 0006_report_indexes
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_email_ingest"
down_revision: str | None = "0006_report_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTCOMES = "'CREATED_TICKET', 'ADDED_REPLY', 'DUPLICATE', 'IGNORED_AUTO_REPLY', 'IGNORED_BOUNCE', 'REJECTED'"


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("imap_host", sa.Text(), nullable=True),
        sa.Column("imap_port", sa.Integer(), nullable=True),
        sa.Column("imap_security", sa.String(length=16), nullable=True),
        sa.Column("imap_username", sa.Text(), nullable=True),
        sa.Column("imap_password_encrypted", sa.Text(), nullable=True),
        sa.Column("imap_folder", sa.Text(), nullable=True),
        sa.Column("smtp_host", sa.Text(), nullable=True),
        sa.Column("smtp_port", sa.Integer(), nullable=True),
        sa.Column("smtp_security", sa.String(length=16), nullable=True),
        sa.Column("smtp_username", sa.Text(), nullable=True),
        sa.Column("smtp_password_encrypted", sa.Text(), nullable=True),
        sa.Column("smtp_from_name", sa.Text(), nullable=True),
        sa.Column("acknowledgement_template", sa.Text(), nullable=True),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "imap_security IN ('NONE', 'STARTTLS', 'TLS')", name=op.f("ck_mailboxes_imap_security_valid")
        ),
        sa.CheckConstraint(
            "smtp_security IN ('NONE', 'STARTTLS', 'TLS')", name=op.f("ck_mailboxes_smtp_security_valid")
        ),
        sa.CheckConstraint("imap_port BETWEEN 1 AND 65535", name=op.f("ck_mailboxes_imap_port_range")),
        sa.CheckConstraint("smtp_port BETWEEN 1 AND 65535", name=op.f("ck_mailboxes_smtp_port_range")),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_mailboxes_group_id_groups"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxes")),
    )
    op.create_index("uq_mailboxes_address", "mailboxes", [sa.text("lower(address)")], unique=True)

    op.add_column("tickets", sa.Column("mailbox_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_tickets_mailbox_id_mailboxes"), "tickets", "mailboxes", ["mailbox_id"], ["id"], ondelete="SET NULL"
    )
    op.add_column("comments", sa.Column("message_id", sa.Text(), nullable=True))
    op.create_index(
        "ix_comments_message_id", "comments", ["message_id"], postgresql_where=sa.text("message_id IS NOT NULL")
    )
    op.add_column("customers", sa.Column("email_bounced_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("mailbox_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name=op.f("ck_inbound_messages_outcome_valid")),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_inbound_messages_mailbox_id_mailboxes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_inbound_messages_ticket_id_tickets"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_inbound_messages_comment_id_comments"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    op.create_index(
        "uq_inbound_messages_mailbox_message",
        "inbound_messages",
        ["mailbox_id", sa.text("coalesce(message_id, raw_sha256)")],
        unique=True,
    )
    op.create_index(
        "ix_inbound_messages_message_id",
        "inbound_messages",
        ["message_id"],
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )

    op.create_table(
        "mail_quarantine",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("mailbox_id", sa.BigInteger(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_mail_quarantine_mailbox_id_mailboxes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_quarantine")),
    )
    op.create_index(
        "ix_mail_quarantine_mailbox_received", "mail_quarantine", ["mailbox_id", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("mail_quarantine")
    op.drop_table("inbound_messages")
    op.drop_column("customers", "email_bounced_at")
    op.drop_index("ix_comments_message_id", table_name="comments")
    op.drop_column("comments", "message_id")
    op.drop_constraint(op.f("fk_tickets_mailbox_id_mailboxes"), "tickets", type_="foreignkey")
    op.drop_column("tickets", "mailbox_id")
    op.drop_index("uq_mailboxes_address", table_name="mailboxes")
    op.drop_table("mailboxes")
