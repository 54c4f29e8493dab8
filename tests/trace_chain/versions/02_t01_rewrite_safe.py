"""Safe: a type change the server does without a rewrite.

Expected: no finding.

Revision ID: t01_rewrite_safe
Revises: t01_rewrite
"""

from __future__ import annotations

from dbtune.migrations import (
    change_column_type_online,
)

revision = "t01_rewrite_safe"
down_revision = "t01_rewrite"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    change_column_type_online("Invoice", "Status", "varchar(40)", schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
