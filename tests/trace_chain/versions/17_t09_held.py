"""Bad: a second table locked while the first stays locked.

Expected: lock_held_across_statements.

Revision ID: t09_held
Revises: t08_no_timeout_safe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t09_held"
down_revision = "t08_no_timeout_safe"
branch_labels = None
depends_on = None
EXPECTED = "lock_held_across_statements"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("Account", sa.Column("Tier", sa.String(10)), schema="App")
    op.add_column("Invoice", sa.Column("Tier", sa.String(10)), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
