"""XP: a user's XP history and the leaderboard.

Hot queries: ``SELECT amount, reason, created_at FROM xp_transactions WHERE user_id = $1
ORDER BY created_at DESC LIMIT 50`` (also the foreign key's index), and ``SELECT user_id,
total_xp, level FROM user_xp ORDER BY total_xp DESC LIMIT 10`` — an index-only scan of the
first ten entries: the issue asked for INCLUDE (level); user_id is INCLUDEd too, or every
leaderboard row would still visit the table.

Revision ID: 0007_xp
Revises: 0006_tracking
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = "0007_xp"
down_revision: str | Sequence[str] | None = "0006_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = "ix_xp_transactions_user_id_created_at"
LEADERBOARD = "ix_user_xp_total_xp"


def upgrade() -> None:
    create_index_online(HISTORY, "xp_transactions", ["user_id", "created_at DESC"])
    create_index_online(LEADERBOARD, "user_xp", ["total_xp DESC"], include=["level", "user_id"])


def downgrade() -> None:
    drop_index_online(LEADERBOARD, "user_xp")
    drop_index_online(HISTORY, "xp_transactions")
