"""Unbounded columns in a candidate: proposed with what makes them safe, or not proposed.

``create_index_online`` refuses an index on an unbounded column (``text``, ``varchar`` without
a length): one value over the btree entry limit makes its INSERT fail. Filtering on such a
column (a status, a kind, a type) is the common case, so advise's candidates hold them, and a
revision that the guard then refuses stopped the user's upgrade. The proposer and the guard
agree here: each unbounded column a candidate holds is measured today (its widest value);
when every one is at most :data:`SAFE_BYTES`, the candidate is proposed with
``allow_wide=True`` and its reason says the widest value and the CHECK that would bound it;
otherwise it is no candidate, and the report says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from dbtune.advise.existing import Existing
from dbtune.advisor.design import Candidate
from dbtune.advisor.revision import bare_column
from dbtune.errors import first_line
from dbtune.index_spec import BTREE_MAX_ENTRY_BYTES

Connection = psycopg.Connection[tuple[Any, ...]]

SAFE_BYTES = 256
"""An unbounded column whose widest value today is at most this (a tenth of the btree entry
limit) is taken as one that stays small: a status or a kind, not a free text."""
MEASURE_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class Refused:
    name: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"index": self.name, "why": self.why}


def _unbounded(existing: Existing, candidate: Candidate) -> list[str]:
    s = candidate.suggestion
    oid = existing.tables.get((s.schema, s.table))
    if oid is None:
        return []
    attnums = existing.attnums.get(oid, {})
    names = [bare_column(c) for c in s.columns] + list(s.include)
    return [
        n
        for n in dict.fromkeys(names)
        if (col := existing.columns.get((oid, attnums.get(n, -1)))) is not None and col.unbounded
    ]


def _widest(conn: Connection, schema: str, table: str, columns: Sequence[str]) -> list[int]:
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


def settle_wide(
    conn: Connection, existing: Existing, candidates: Sequence[Candidate]
) -> tuple[list[Candidate], list[Refused]]:
    """The candidates, those with unbounded columns marked ``allow_wide`` with the reason,
    and those refused (a wide value today, or no measurement in time)."""
    kept: list[Candidate] = []
    refused: list[Refused] = []
    widest: dict[tuple[str, str, str], int] = {}
    for c in candidates:
        s = c.suggestion
        wide = _unbounded(existing, c)
        if not wide:
            kept.append(c)
            continue
        todo = [w for w in wide if (s.schema, s.table, w) not in widest]
        if todo:
            try:
                for w, v in zip(todo, _widest(conn, s.schema, s.table, todo), strict=True):
                    widest[(s.schema, s.table, w)] = v
            except psycopg.Error as exc:
                if conn.closed:
                    raise
                why = f"{', '.join(wide)}: unbounded, widest value not measured ({first_line(exc)})"
                refused.append(Refused(s.name, why))
                continue
        over = [w for w in wide if widest[(s.schema, s.table, w)] > SAFE_BYTES]
        figures = ", ".join(f"{w} {widest[(s.schema, s.table, w)]:,} bytes" for w in wide)
        if over:
            refused.append(Refused(s.name, (
                f"unbounded {', '.join(over)} holds values over {SAFE_BYTES} bytes today "
                f"(widest: {figures}); a btree entry over {BTREE_MAX_ENTRY_BYTES} bytes fails "
                "its INSERT"
            )))  # fmt: skip
            continue
        why = (
            f"allow_wide: {', '.join(wide)} unbounded, widest value today {figures} "
            f"(at most {SAFE_BYTES}); a CHECK (octet_length(col) <= {SAFE_BYTES}) would make "
            "that a rule"
        )
        reason = f"{s.reason}; {why}" if s.reason else why
        kept.append(replace(c, suggestion=replace(s, allow_wide=True, reason=reason)))
    return kept, refused
