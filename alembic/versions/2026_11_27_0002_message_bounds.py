"""Bound the width of conversation_history.role and .message_type with CHECK constraints.

The covering index of 0003 INCLUDEs both columns. As plain ``text`` they could hold a value
too wide for a btree entry (2704 bytes) and make an INSERT fail; a validated
``CHECK (char_length(...) <= n)`` bounds them, which dbtune's index helper verifies. Added
``NOT VALID`` first (a catalog change under a short lock_timeout) and validated after (a scan
that does not block writers).

Revision ID: 0002_message_bounds
Revises: 0001_baseline
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import add_checks_online, drop_checks_online

revision: str = "0002_message_bounds"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE_MAX_CHARS = 32
MESSAGE_TYPE_MAX_CHARS = 64


CHECKS = {
    "ck_conversation_history_role_length": f"char_length(role) <= {ROLE_MAX_CHARS}",
    "ck_conversation_history_message_type_length": (
        f"char_length(message_type) <= {MESSAGE_TYPE_MAX_CHARS}"
    ),
}


def upgrade() -> None:
    add_checks_online("conversation_history", CHECKS)


def downgrade() -> None:
    drop_checks_online("conversation_history", list(CHECKS))
