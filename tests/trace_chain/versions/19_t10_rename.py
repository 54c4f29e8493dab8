"""Bad: a column the running code reads, renamed.

Expected: rename_in_use.

Revision ID: t10_rename
Revises: t09_held_safe
"""

from __future__ import annotations

from alembic import op

revision = "t10_rename"
down_revision = "t09_held_safe"
branch_labels = None
depends_on = None
EXPECTED = "rename_in_use"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("Account", "Phone", new_column_name="PhoneNumber", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
