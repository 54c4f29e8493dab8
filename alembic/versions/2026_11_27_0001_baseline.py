"""Baseline: the reference schema with primary and foreign keys only.

This is the slow "before" state: every hot query reads a whole table. A database of this shape
that predates dbtune adopts the migrations with ``alembic stamp 0001_baseline`` and then
``alembic upgrade head``.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True)


def _user_id() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
        _created_at(),
    )
    op.create_table(
        "conversation_history",
        _id(),
        _user_id(),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("message_type", sa.Text, nullable=True),
        sa.Column("metadata", postgresql.JSONB, nullable=True),
        _created_at(),
    )
    op.create_table(
        "food_entries",
        _id(),
        _user_id(),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("calories", sa.Integer, nullable=False),
        sa.Column("protein_g", sa.REAL, nullable=False, server_default="0"),
        sa.Column("carbs_g", sa.REAL, nullable=False, server_default="0"),
        sa.Column("fat_g", sa.REAL, nullable=False, server_default="0"),
        sa.Column("meal_type", sa.Text, nullable=True),
        _created_at(),
    )
    op.create_table(
        "reminders",
        _id(),
        _user_id(),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recurrence", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _created_at(),
    )
    op.create_table(
        "tracking_categories",
        _id(),
        _user_id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=True),
        _created_at(),
    )
    op.create_table(
        "tracking_entries",
        _id(),
        _user_id(),
        sa.Column(
            "category_id",
            sa.BigInteger,
            sa.ForeignKey("tracking_categories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("value", sa.REAL, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        _created_at(),
    )
    op.create_table(
        "xp_transactions",
        _id(),
        _user_id(),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _created_at(),
    )
    op.create_table(
        "user_xp",
        sa.Column(
            "user_id",
            sa.BigInteger,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("total_xp", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("level", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    for table in (
        "user_xp",
        "xp_transactions",
        "tracking_entries",
        "tracking_categories",
        "reminders",
        "food_entries",
        "conversation_history",
        "users",
    ):
        op.drop_table(table)
