"""Food log: today's calories as an index-only range scan, and the recent entries.

Hot queries: ``SELECT sum(calories), sum(protein_g), sum(carbs_g), sum(fat_g) FROM
food_entries WHERE user_id = $1 AND created_at >= $day AND created_at < $next_day`` and
``... WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20``. The key serves both (and the
foreign key to users); INCLUDE carries the fixed-width nutrient columns so the daily total
never visits the table.

Revision ID: 0004_food_entries
Revises: 0003_covering_messages
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = "0004_food_entries"
down_revision: str | Sequence[str] | None = "0003_covering_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_food_entries_user_id_created_at"


def upgrade() -> None:
    create_index_online(
        INDEX,
        "food_entries",
        ["user_id", "created_at DESC"],
        include=["calories", "protein_g", "carbs_g", "fat_g"],
    )


def downgrade() -> None:
    drop_index_online(INDEX, "food_entries")
