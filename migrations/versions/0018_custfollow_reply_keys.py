"""idempotency keys of callers with no agent: customer sessions (addCustomerReply); their scope
names the customer ("addCustomerReply:<ticket>:customer:<id>")

The change is the same as the web form's (0017_webform_surveys: agent_id nullable, one unique
index with NULLS NOT DISTINCT instead of the primary key) and written so that whichever of the two
runs second finds it done and changes nothing.

Revision ID: 0018_custfollow_reply_keys
Revises: 0017_custsess_customer_sign_in
Create Date: 2026-12-17 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_custfollow_reply_keys"
down_revision: str | None = "0017_custsess_customer_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE idempotency_keys DROP CONSTRAINT IF EXISTS pk_idempotency_keys")
    op.execute("ALTER TABLE idempotency_keys ALTER COLUMN agent_id DROP NOT NULL")
    op.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_idempotency_keys_scope_agent_id_key "
        "ON idempotency_keys (scope, agent_id, key) NULLS NOT DISTINCT"
    )


def downgrade() -> None:
    # Only the customers' keys go: the web form's anonymous keys, if its migration is applied,
    # keep the index (its own downgrade restores the primary key).
    op.execute("DELETE FROM idempotency_keys WHERE agent_id IS NULL AND scope LIKE 'addCustomerReply:%'")
    op.execute(
        """
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE agent_id IS NULL) THEN
            DROP INDEX IF EXISTS uq_idempotency_keys_scope_agent_id_key;
            ALTER TABLE idempotency_keys ALTER COLUMN agent_id SET NOT NULL;
            ALTER TABLE idempotency_keys ADD CONSTRAINT pk_idempotency_keys PRIMARY KEY (scope, agent_id, key);
          END IF;
        END $$
        """
    )
