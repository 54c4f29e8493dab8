"""Covering index for "the latest N messages of one user".

Hot query: ``SELECT ... FROM conversation_history WHERE user_id = $1 ORDER BY created_at DESC
LIMIT 20``. Without it the server reads every message of every user and sorts. The key gives
the rows of one user already in order; INCLUDE carries the narrow columns a message listing
shows, so the listing is an index-only scan. ``role`` and ``message_type`` are bounded by the
CHECK constraints of 0002; ``content`` and ``metadata`` stay out: they are unbounded, and a
btree entry over 2704 bytes makes the INSERT fail.

Revision ID: 0003_covering_messages
Revises: 0002_message_bounds
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = "0003_covering_messages"
down_revision: str | Sequence[str] | None = "0002_message_bounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_conversation_history_user_id_created_at"


def upgrade() -> None:
    create_index_online(
        INDEX,
        "conversation_history",
        ["user_id", "created_at DESC"],
        include=["role", "message_type"],
    )


def downgrade() -> None:
    drop_index_online(INDEX, "conversation_history")
