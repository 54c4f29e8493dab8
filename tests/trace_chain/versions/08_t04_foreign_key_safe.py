"""Safe: NOT VALID, then VALIDATE.

Expected: no finding.

Revision ID: t04_foreign_key_safe
Revises: t04_foreign_key
"""

from __future__ import annotations

from dbtune.migrations import (
    add_foreign_key_online,
)

revision = "t04_foreign_key_safe"
down_revision = "t04_foreign_key"
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    add_foreign_key_online(
        "fk_Invoice_payer",
        "Invoice",
        ["accountId"],
        "Account",
        ["id"],
        schema="App",
        referent_schema="App",
        allow_unindexed=True,
    )


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
