"""Bad: an indexed column widened to text.

Expected: index_entry_too_wide.

Revision ID: t11_wide
Revises: t10_rename_safe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t11_wide"
down_revision = "t10_rename_safe"
branch_labels = None
depends_on = None
EXPECTED = "index_entry_too_wide"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("Invoice", "Note", type_=sa.Text, schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
