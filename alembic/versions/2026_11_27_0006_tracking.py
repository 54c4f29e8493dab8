"""Habit tracking: one category's entries of a user, and the foreign keys' indexes.

Hot query: ``SELECT value, created_at FROM tracking_entries WHERE user_id = $1 AND
category_id = $2 ORDER BY created_at DESC LIMIT 30``. Deleting a category must not scan
tracking_entries (category_id leads an index), nor deleting a user scan tracking_categories.

Revision ID: 0006_tracking
Revises: 0005_reminders
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = "0006_tracking"
down_revision: str | Sequence[str] | None = "0005_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRIES = "ix_tracking_entries_user_id_category_id_created_at"
ENTRIES_FK = "ix_tracking_entries_category_id"
CATEGORIES_FK = "ix_tracking_categories_user_id"


def upgrade() -> None:
    create_index_online(ENTRIES, "tracking_entries", ["user_id", "category_id", "created_at DESC"])
    create_index_online(ENTRIES_FK, "tracking_entries", ["category_id"])
    create_index_online(CATEGORIES_FK, "tracking_categories", ["user_id"])


def downgrade() -> None:
    drop_index_online(CATEGORIES_FK, "tracking_categories")
    drop_index_online(ENTRIES_FK, "tracking_entries")
    drop_index_online(ENTRIES, "tracking_entries")
