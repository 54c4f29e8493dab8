"""Safe: two changes of the same table.

Expected: no finding.

Revision ID: t09_held_safe
Revises: t09_held
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t09_held_safe"
down_revision = "t09_held"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("Account", sa.Column("Region", sa.String(10)), schema="App")
    op.add_column("Account", sa.Column("Locale", sa.String(10)), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
