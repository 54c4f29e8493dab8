"""Safe: the index concurrently, then USING INDEX.

Expected: no finding.

Revision ID: t07_unique_safe
Revises: t07_unique
"""

from __future__ import annotations

from dbtune.migrations import (
    add_unique_online,
)

revision = "t07_unique_safe"
down_revision = "t07_unique"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    add_unique_online("uq_Account_Name", "Account", ["Name"], schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
