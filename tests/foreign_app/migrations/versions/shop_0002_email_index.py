"""The shop looks customers up by email.

Revision ID: shop_0002
Revises: shop_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "shop_0002"
down_revision = "shop_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_Customer_email", "Customer", ["email"], unique=True, schema="Shop")


def downgrade() -> None:
    op.drop_index("ix_Customer_email", table_name="Customer", schema="Shop")
