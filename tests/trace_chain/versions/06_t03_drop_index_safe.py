"""Safe: DROP INDEX CONCURRENTLY.

Expected: no finding.

Revision ID: t03_drop_index_safe
Revises: t03_drop_index
"""

from __future__ import annotations

from dbtune.migrations import (
    drop_index_online,
)

revision = "t03_drop_index_safe"
down_revision = "t03_drop_index"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    drop_index_online("ix_Invoice_Status", "Invoice", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
