"""Reminders: the scheduler's "due now" scan and a user's active reminders.

Hot queries: ``SELECT ... FROM reminders WHERE active AND next_run_at <= now() ORDER BY
next_run_at LIMIT 100`` (the scheduler, every few seconds) — a partial index holds only the
active rows, so it stays small as inactive ones pile up; and ``... WHERE user_id = $1 AND
active ORDER BY next_run_at`` — a full index led by user_id, which also serves the foreign
key (a partial index cannot: deleting a user must find the inactive rows too).

Revision ID: 0005_reminders
Revises: 0004_food_entries
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = "0005_reminders"
down_revision: str | Sequence[str] | None = "0004_food_entries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = "ix_reminders_next_run_at_where_active"
BY_USER = "ix_reminders_user_id_active_next_run_at"


def upgrade() -> None:
    create_index_online(DUE, "reminders", ["next_run_at"], where="active")
    create_index_online(BY_USER, "reminders", ["user_id", "active", "next_run_at"])


def downgrade() -> None:
    drop_index_online(BY_USER, "reminders")
    drop_index_online(DUE, "reminders")
