"""Bad: a foreign key validated at once.

Expected: foreign_key_validated.

Revision ID: t04_foreign_key
Revises: t03_drop_index_safe
"""

from __future__ import annotations

from alembic import op

revision = "t04_foreign_key"
down_revision = "t03_drop_index_safe"
branch_labels = None
depends_on = None
EXPECTED = "foreign_key_validated"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.create_foreign_key(
        "fk_Invoice_account",
        "Invoice",
        "Account",
        ["accountId"],
        ["id"],
        source_schema="App",
        referent_schema="App",
    )


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
