"""Unbounded columns in a suggested index: proposed with what makes them safe, or not at all.

``create_index_online`` refuses an index on an unbounded column (``text``, ``varchar`` without
a length, ``numeric`` without a precision): one value over the btree entry limit makes its
INSERT fail. Filtering on such a column (a status, a kind, a type) is the common case, so
suggestions hold them, and a revision that the guard then refused stopped the user's upgrade.
The proposer and the guard agree here, for the per-query advisor and for ``advise`` alike:
each unbounded column is measured today (its widest stored value, ``pg_column_size``); when
every one is at most :data:`SAFE_BYTES` the index is proposed with ``allow_wide=True`` and its
reason gives the widest value and the CHECK that would make it a rule; otherwise it is not
proposed, and why is said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import sql

from dbtune.errors import first_line
from dbtune.query.advice import Suggestion
from dbtune.sql.index_spec import BTREE_MAX_ENTRY_BYTES

Connection = psycopg.Connection[tuple[Any, ...]]

SAFE_BYTES = 256
"""An unbounded column whose widest value today is at most this (a tenth of the btree entry
limit) is taken as one that stays small: a status or a kind, not a free text."""
MEASURE_TIMEOUT_MS = 10_000

Widest = dict[tuple[str, str, str], int]
"""(schema, table, column) -> widest stored value in bytes: measured once per run."""


def _measure(conn: Connection, schema: str, table: str, columns: Sequence[str]) -> list[int]:
    """The widest value of each column today, in bytes as stored (``pg_column_size``: any
    type, compressed as an index entry would be; 0 for a column of NULLs only)."""
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(
            sql.SQL("coalesce(max(pg_column_size({})), 0)").format(sql.Identifier(c))
            for c in columns
        ),
        sql.Identifier(schema, table),
    )
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(MEASURE_TIMEOUT_MS)])
        row = conn.execute(query).fetchone()
    return [int(v) for v in row or ()]


def settle(
    conn: Connection, suggestion: Suggestion, unbounded: Sequence[str], widest: Widest
) -> tuple[Suggestion | None, str]:
    """``suggestion`` with ``allow_wide`` and why, when its ``unbounded`` columns hold only
    small values today; else None and why not. ``widest`` caches the measurements."""
    if not unbounded:
        return suggestion, ""
    s = suggestion
    todo = [c for c in unbounded if (s.schema, s.table, c) not in widest]
    if todo:
        try:
            for column, value in zip(todo, _measure(conn, s.schema, s.table, todo), strict=True):
                widest[(s.schema, s.table, column)] = value
        except psycopg.Error as exc:
            if conn.closed:
                raise
            return None, f"{', '.join(unbounded)}: unbounded, not measured ({first_line(exc)})"
    figures = ", ".join(f"{c} {widest[(s.schema, s.table, c)]:,} bytes" for c in unbounded)
    over = [c for c in unbounded if widest[(s.schema, s.table, c)] > SAFE_BYTES]
    if over:
        return None, (
            f"unbounded {', '.join(over)} holds values over {SAFE_BYTES} bytes today (widest: "
            f"{figures}); a btree entry over {BTREE_MAX_ENTRY_BYTES} bytes fails its INSERT"
        )
    why = (
        f"allow_wide: {', '.join(unbounded)} unbounded, widest value today {figures} (at most "
        f"{SAFE_BYTES}); a CHECK (octet_length(col) <= {SAFE_BYTES}) would make that a rule"
    )
    return replace(s, allow_wide=True, reason=f"{s.reason}; {why}" if s.reason else why), why
