"""Bad: a column type change that rewrites.

Expected: table_rewrite.

Revision ID: t01_rewrite
Revises: t00_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t01_rewrite"
down_revision = "t00_base"
branch_labels = None
depends_on = None
EXPECTED = "table_rewrite"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("Invoice", "Total", type_=sa.BigInteger, schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
