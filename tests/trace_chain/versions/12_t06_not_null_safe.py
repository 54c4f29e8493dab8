"""Safe: a validated CHECK proves it, no scan.

Expected: no finding.

Revision ID: t06_not_null_safe
Revises: t06_not_null
"""

from __future__ import annotations

from dbtune.migrations import (
    set_not_null_online,
)

revision = "t06_not_null_safe"
down_revision = "t06_not_null"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    set_not_null_online("Invoice", "Status", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
