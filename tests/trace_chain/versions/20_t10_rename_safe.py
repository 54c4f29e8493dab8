"""Safe: a rename of a table this revision creates.

Expected: no finding.

Revision ID: t10_rename_safe
Revises: t10_rename
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t10_rename_safe"
down_revision = "t10_rename"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    op.create_table("Draft", sa.Column("id", sa.BigInteger, primary_key=True), schema="App")
    op.rename_table("Draft", "Drafts", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
