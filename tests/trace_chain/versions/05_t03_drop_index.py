"""Bad: DROP INDEX.

Expected: drop_index_blocking.

Revision ID: t03_drop_index
Revises: t02_create_index_safe
"""

from __future__ import annotations

from alembic import op

revision = "t03_drop_index"
down_revision = "t02_create_index_safe"
branch_labels = None
depends_on = None
EXPECTED = "drop_index_blocking"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.drop_index("ix_Invoice_accountId", table_name="Invoice", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
