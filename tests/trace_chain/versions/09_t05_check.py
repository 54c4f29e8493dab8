"""Bad: a CHECK validated at once.

Expected: check_validated.

Revision ID: t05_check
Revises: t04_foreign_key_safe
"""

from __future__ import annotations

from alembic import op

revision = "t05_check"
down_revision = "t04_foreign_key_safe"
branch_labels = None
depends_on = None
EXPECTED = "check_validated"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.create_check_constraint("ck_Invoice_Total", "Invoice", '"Total" >= 0', schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
