"""Bad: SET NOT NULL with a scan.

Expected: set_not_null_scan.

Revision ID: t06_not_null
Revises: t05_check_safe
"""

from __future__ import annotations

from alembic import op

revision = "t06_not_null"
down_revision = "t05_check_safe"
branch_labels = None
depends_on = None
EXPECTED = "set_not_null_scan"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("Invoice", "Note", nullable=False, schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
