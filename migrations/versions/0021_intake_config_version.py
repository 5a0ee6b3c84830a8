"""intake configuration version: one row naming the last transaction that changed routing
rules, custom field definitions, SLA policies, business calendars or groups, so a process can
keep that configuration cached and check it with one value

Revision ID: 0021_intake_config_version
Revises: 0020_automation_preview_indexes
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_intake_config_version"
down_revision: str | None = "0020_automation_preview_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("routing_rules", "ticket_field_definitions", "sla_policies", "business_calendars", "groups")


def upgrade() -> None:
    op.create_table(
        "intake_config_version",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_intake_config_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_config_version")),
    )
    # A statement-level trigger: one write per changing statement, whatever the rows. The row is
    # locked until the change commits, so readers see the new version exactly with the change.
    op.execute(
        """
        CREATE FUNCTION bump_intake_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO intake_config_version (id, version)
            VALUES (1, pg_current_xact_id()::text::bigint)
            ON CONFLICT (id) DO UPDATE SET version = excluded.version;
            RETURN NULL;
        END $$
        """
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bump_intake_config_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_intake_config_version()"
        )
    op.execute("INSERT INTO intake_config_version (id, version) VALUES (1, pg_current_xact_id()::text::bigint)")


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TRIGGER {table}_bump_intake_config_version ON {table}")
    op.execute("DROP FUNCTION bump_intake_config_version()")
    op.drop_table("intake_config_version")
