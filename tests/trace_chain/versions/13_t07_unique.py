"""Bad: ADD UNIQUE builds its index under ACCESS EXCLUSIVE.

Expected: unique_constraint_build.

Revision ID: t07_unique
Revises: t06_not_null_safe
"""

from __future__ import annotations

from alembic import op

revision = "t07_unique"
down_revision = "t06_not_null_safe"
branch_labels = None
depends_on = None
EXPECTED = "unique_constraint_build"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.create_unique_constraint("uq_Account_Email", "Account", ["Email"], schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
