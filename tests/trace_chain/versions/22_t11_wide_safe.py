"""Safe: an indexed column widened within the btree limit.

Expected: no finding.

Revision ID: t11_wide_safe
Revises: t11_wide
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t11_wide_safe"
down_revision = "t11_wide"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("Account", "Email", type_=sa.String(200), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
