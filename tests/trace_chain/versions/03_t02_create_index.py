"""Bad: CREATE INDEX on an existing table.

Expected: create_index_blocking.

Revision ID: t02_create_index
Revises: t01_rewrite_safe
"""

from __future__ import annotations

from alembic import op

revision = "t02_create_index"
down_revision = "t01_rewrite_safe"
branch_labels = None
depends_on = None
EXPECTED = "create_index_blocking"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.create_index("ix_Invoice_accountId", "Invoice", ["accountId"], schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
