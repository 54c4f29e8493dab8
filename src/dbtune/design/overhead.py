"""What a new index costs the writers: its write overhead, the table's writes, lost HOT updates.

The write overhead of an index is the bytes each write adds to it for the bytes it writes to
the table: its entry (an 8-byte header and the key and INCLUDE columns' average widths from
``pg_stats``) over the table's row (a 24-byte header and every column's average width), times
the share of rows a partial index holds (the planner's estimate of its predicate). An UPDATE
that changes an indexed column cannot be a HOT update (the new row version needs new entries in
every index), so a candidate keying or including a column the workload's UPDATEs set says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import ast
from psycopg import sql

from dbtune.query.advice import Suggestion, bare_column
from dbtune.sql.text import SqlTextError, statement_tree
from dbtune.workload import Workload

Connection = psycopg.Connection[tuple[Any, ...]]

ROW_HEADER_BYTES = 24
ENTRY_HEADER_BYTES = 8
UNKNOWN_WIDTH = 32  # a column without statistics

_WIDTHS = """
SELECT a.attname, coalesce(s.avg_width, nullif(a.attlen, -1), %(unknown)s)
FROM pg_attribute AS a
LEFT JOIN pg_stats AS s ON s.schemaname = %(schema)s AND s.tablename = %(table)s
     AND s.attname = a.attname AND NOT s.inherited
WHERE a.attrelid = to_regclass(%(qualified)s) AND a.attnum > 0 AND NOT a.attisdropped
"""

_WRITES = """
SELECT t.n_tup_ins + t.n_tup_upd + t.n_tup_del, c.reltuples,
       extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time())) / 86400
FROM pg_stat_user_tables AS t JOIN pg_class AS c ON c.oid = t.relid
CROSS JOIN pg_stat_database AS d
WHERE t.relid = to_regclass(%(qualified)s) AND d.datname = current_database()
"""


@dataclass(frozen=True, slots=True)
class Overhead:
    entry_bytes: float
    row_bytes: float
    share: float  # of the table's rows the index holds (1 unless partial)
    writes_per_day: float | None
    hot_columns: tuple[str, ...]  # indexed columns the workload's UPDATEs set

    @property
    def ratio(self) -> float:
        return self.entry_bytes / max(self.row_bytes, 1.0) * self.share

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratio": round(self.ratio, 4),
            "entry_bytes": self.entry_bytes,
            "row_bytes": self.row_bytes,
            "share": round(self.share, 4),
            "writes_per_day": self.writes_per_day,
            "hot_columns": list(self.hot_columns),
        }


def updated_columns(workload: Workload) -> dict[str, set[str]]:
    """Table name (unqualified) -> the columns the workload's UPDATEs set."""
    found: dict[str, set[str]] = {}
    for query in workload.queries:
        try:
            stmt = statement_tree(query.sql)
        except SqlTextError:
            continue
        if isinstance(stmt, ast.UpdateStmt) and stmt.relation is not None:
            columns = {str(t.name) for t in stmt.targetList or () if isinstance(t, ast.ResTarget)}
            found.setdefault(str(stmt.relation.relname), set()).update(columns)
    return found


@dataclass(frozen=True, slots=True)
class _TableFigures:
    """What every candidate on one table shares: its columns' widths and its writes."""

    widths: dict[str, float]
    writes: tuple[Any, ...] | None


def _figures(conn: Connection, schema: str, table: str) -> _TableFigures:
    qualified = sql.Identifier(schema, table).as_string(conn)
    binds = {"schema": schema, "table": table, "qualified": qualified, "unknown": UNKNOWN_WIDTH}
    widths = {str(n): float(w) for n, w in conn.execute(_WIDTHS, binds).fetchall()}
    return _TableFigures(widths, conn.execute(_WRITES, {"qualified": qualified}).fetchone())


def overheads(
    conn: Connection, suggestions: Sequence[Suggestion], updated: Mapping[str, set[str]]
) -> dict[Suggestion, Overhead]:
    """Each suggestion's write overhead; each table's figures read once."""
    tables = {(s.schema, s.table) for s in suggestions}
    figures = {key: _figures(conn, *key) for key in tables}
    return {s: overhead_of(conn, s, figures[(s.schema, s.table)], updated) for s in suggestions}


def overhead_of(
    conn: Connection,
    suggestion: Suggestion,
    figures: _TableFigures,
    updated: Mapping[str, set[str]],
) -> Overhead:
    widths, writes = figures.widths, figures.writes
    indexed = [bare_column(c) for c in suggestion.columns] + list(suggestion.include)
    entry = ENTRY_HEADER_BYTES + sum(widths.get(c, UNKNOWN_WIDTH) for c in indexed)
    row = ROW_HEADER_BYTES + sum(widths.values())
    share = 1.0
    if suggestion.where:
        share = _share(conn, suggestion, float(writes[1]) if writes else 0.0)
    per_day = None
    if writes is not None and writes[2]:
        per_day = float(writes[0]) / max(float(writes[2]), 1 / 24)
    where_columns = set(widths) & set(_words(suggestion.where or ""))
    hot = tuple(sorted((set(indexed) | where_columns) & updated.get(suggestion.table, set())))
    return Overhead(entry, row, share, per_day, hot)


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c == "_" else " " for c in text).split()


def _share(conn: Connection, suggestion: Suggestion, rows: float) -> float:
    """The planner's estimate of the share of rows the partial index's predicate keeps."""
    query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} WHERE {}").format(
        sql.Identifier(suggestion.schema, suggestion.table),
        sql.SQL(suggestion.where or "true"),
    )
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error:
        return 1.0
    if row is None or rows <= 0:
        return 1.0
    return min(1.0, float(row[0][0]["Plan"]["Plan Rows"]) / rows)
