"""Safe: NOT VALID, then VALIDATE.

Expected: no finding.

Revision ID: t05_check_safe
Revises: t05_check
"""

from __future__ import annotations

from dbtune.migrations import (
    add_checks_online,
)

revision = "t05_check_safe"
down_revision = "t05_check"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    add_checks_online("Invoice", {"ck_Invoice_Status": 'char_length("Status") <= 40'}, schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
