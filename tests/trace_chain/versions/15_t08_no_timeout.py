"""Bad: ACCESS EXCLUSIVE with no lock_timeout.

Expected: lock_without_timeout.

Revision ID: t08_no_timeout
Revises: t07_unique_safe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t08_no_timeout"
down_revision = "t07_unique_safe"
branch_labels = None
depends_on = None
EXPECTED = "lock_without_timeout"


def upgrade() -> None:
    op.add_column("Account", sa.Column("Phone", sa.String(20)), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
