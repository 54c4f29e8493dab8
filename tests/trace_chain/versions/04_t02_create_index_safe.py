"""Safe: the index built concurrently.

Expected: no finding.

Revision ID: t02_create_index_safe
Revises: t02_create_index
"""

from __future__ import annotations

from dbtune.migrations import (
    create_index_online,
)

revision = "t02_create_index_safe"
down_revision = "t02_create_index"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    create_index_online("ix_Invoice_Status", "Invoice", ["Status"], schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
