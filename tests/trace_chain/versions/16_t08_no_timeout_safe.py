"""Safe: the same with a lock_timeout.

Expected: no finding.

Revision ID: t08_no_timeout_safe
Revises: t08_no_timeout
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t08_no_timeout_safe"
down_revision = "t08_no_timeout"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("Account", sa.Column("Fax", sa.String(20)), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
