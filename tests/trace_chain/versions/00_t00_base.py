"""The tables.

Expected: no finding.

Revision ID: t00_base
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t00_base"
down_revision = None
branch_labels = None
depends_on = None
EXPECTED = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSchema("App"))
    op.create_table(
        "Account",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("Email", sa.String(100), nullable=False),
        sa.Column("Name", sa.String(80)),
        schema="App",
    )
    op.create_table(
        "Invoice",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("accountId", sa.BigInteger),
        sa.Column("Total", sa.Integer),
        sa.Column("Note", sa.String(200)),
        sa.Column("Status", sa.String(20)),
        schema="App",
    )
    op.create_index("ix_Invoice_Note", "Invoice", ["Note"], schema="App")


def downgrade() -> None:
    raise NotImplementedError("a trace fixture: upgrade only")
