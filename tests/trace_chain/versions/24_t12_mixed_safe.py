"""Safe: the data in batches, in a revision of its own.

Expected: no finding.

Revision ID: t12_mixed_safe
Revises: t12_mixed
"""

from __future__ import annotations

from dbtune.migrations import (
    backfill,
)

revision = "t12_mixed_safe"
down_revision = "t12_mixed"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    backfill("Invoice", '"Flag" = false', schema="App", where='"Flag" IS NULL')


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
