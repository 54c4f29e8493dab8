"""The shop's tables.

Revision ID: shop_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "shop_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSchema("Shop"))
    op.create_table(
        "Customer",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("email", sa.String(120), nullable=False),
        sa.Column("displayName", sa.String(80)),
        schema="Shop",
    )
    op.create_table(
        "Orders",
        sa.Column("id", postgresql.UUID, primary_key=True),
        sa.Column("customerId", sa.BigInteger, sa.ForeignKey("Shop.Customer.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("createdAt", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("note", sa.Text),
        schema="Shop",
    )


def downgrade() -> None:
    op.drop_table("Orders", schema="Shop")
    op.drop_table("Customer", schema="Shop")
    op.execute(sa.schema.DropSchema("Shop"))
