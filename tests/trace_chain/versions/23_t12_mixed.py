"""Bad: a big UPDATE in the transaction of an ALTER.

Expected: ddl_with_data_update.

Revision ID: t12_mixed
Revises: t11_wide_safe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t12_mixed"
down_revision = "t11_wide_safe"
branch_labels = None
depends_on = None
EXPECTED = "ddl_with_data_update"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.execute('UPDATE "App"."Invoice" SET "Tier" = \'basic\'')
    op.add_column("Invoice", sa.Column("Flag", sa.Boolean), schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
