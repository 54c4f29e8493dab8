"""Bad but allowed: a volatile default.

Expected: table_rewrite.

Revision ID: t13_allowed
Revises: t12_mixed_safe
"""

from __future__ import annotations

from alembic import op

revision = "t13_allowed"
down_revision = "t12_mixed_safe"
branch_labels = None
depends_on = None
EXPECTED = "table_rewrite"


def upgrade() -> None:
    # dbtune: allow=table_rewrite because the table is tiny in production
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.execute('ALTER TABLE "App"."Account" ADD COLUMN "Token" uuid DEFAULT gen_random_uuid()')


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
