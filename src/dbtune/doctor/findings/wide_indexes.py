"""wide_indexes: indexes holding a column of unbounded width (the 2704-byte hazard).

Problem: a btree entry larger than 2704 bytes is an error at INSERT time; an index whose key or
INCLUDE columns are ``text``, ``jsonb``, ``bytea`` or ``varchar`` without a length (and not
bounded by a validated ``CHECK (char_length(col) <= n)``) makes that INSERT possible — one long,
poorly compressible value is enough. Evidence: the column types in the catalog, matched to the
index by attnum; on tables small enough to scan cheaply, the widest current value is reported
too. Fix: for text columns, a ``CHECK (char_length(col) <= n)`` added ``NOT VALID`` and then
validated, with ``n`` chosen so that every entry fits; for other types, rebuild the index
without the column (fetch it from the table).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor.catalog import IndexInfo, drop_index_sql, indexes
from dbtune.identifiers import ident
from dbtune.index_spec import (
    ALIGNMENT_SLACK_BYTES,
    BTREE_MAX_ENTRY_BYTES,
    INDEX_TUPLE_HEADER_BYTES,
    MAX_BYTES_PER_CHAR,
    MAX_IDENTIFIER_BYTES,
    VARLENA_HEADER_BYTES,
    ColumnType,
    length_limit,
    max_width,
)

ID = "wide_indexes"
TEXT_TYPES = {"text", "varchar", "bpchar", "citext"}

_COLUMNS = """
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
       CASE WHEN ty.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END,
       ty.typname
FROM pg_attribute AS a JOIN pg_type AS ty ON ty.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY(%s)
"""
_CHECKS = """
SELECT conrelid, conkey[1], pg_get_constraintdef(oid) FROM pg_constraint AS k
WHERE contype = 'c' AND convalidated AND cardinality(conkey) = 1 AND conrelid = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = k.conrelid
                  AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
"""

Column = tuple[ColumnType, str]  # the width facts and the type's name (pg_type.typname)


def _columns(conn: Connection, tables: list[int]) -> dict[tuple[int, int], Column]:
    bounds: dict[tuple[int, int], int] = {}
    for table_oid, attnum, definition in conn.execute(_CHECKS, [tables]).fetchall():
        limit = length_limit(definition)
        if limit is not None:
            bounds[(table_oid, attnum)] = limit
    columns: dict[tuple[int, int], Column] = {}
    rows = conn.execute(_COLUMNS, [tables]).fetchall()
    for table_oid, attnum, name, type_name, typlen, chars, typname in rows:
        limit = chars if chars is not None else bounds.get((table_oid, attnum))
        columns[(table_oid, attnum)] = (
            ColumnType(name, type_name, int(typlen), limit),
            str(typname),
        )
    return columns


def bound_chars(fixed_bytes: list[int], wide_count: int) -> int:
    """The largest ``n`` for ``char_length(col) <= n`` on each wide column that keeps every
    entry within the btree limit, given the widths of the index's bounded columns."""
    room = BTREE_MAX_ENTRY_BYTES - INDEX_TUPLE_HEADER_BYTES
    room -= sum(w + ALIGNMENT_SLACK_BYTES for w in fixed_bytes)
    per_column = room // wide_count - ALIGNMENT_SLACK_BYTES - VARLENA_HEADER_BYTES
    return max(1, per_column // MAX_BYTES_PER_CHAR)


def _constraint_name(table: str, column: str) -> str:
    name = f"ck_{table}_{column}_length"
    while len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        name = name[:-1]
    return name


def _fix(index: IndexInfo, wide: list[Column], fixed: list[int]) -> str:
    if any(typname not in TEXT_TYPES for _, typname in wide):
        return drop_index_sql(index)
    limit = bound_chars(fixed, len(wide))
    table = ident(index.schema, index.table)
    statements = []
    for column, _ in wide:
        name = ident(_constraint_name(index.table, column.name))
        statements.append(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (char_length({}) <= {}) NOT VALID; "
                "ALTER TABLE {} VALIDATE CONSTRAINT {};"
            ).format(table, name, ident(column.name), sql.Literal(limit), table, name)
        )
    return sql.SQL(" ").join(statements).as_string()


def _widest(conn: Connection, index: IndexInfo, wide: list[Column]) -> str:
    """The widest current value, measured in a savepoint: a table we may not read or that is
    locked costs this remark, not the finding."""
    measure = sql.SQL("SELECT max({}) FROM {}").format(
        sql.SQL(" + ").join(
            sql.SQL("coalesce(pg_column_size({}), 0)").format(sql.Identifier(c.name))
            for c, _ in wide
        ),
        sql.Identifier(index.schema, index.table),
    )
    try:
        with conn.transaction():
            value = conn.execute(measure).fetchone()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"; the widest current value was not measured ({reason})"
    if value and value[0] is not None:
        return f"; the widest current value takes {int(value[0]):,} bytes"
    return ""


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    all_indexes = [i for i in indexes(conn) if i.method == "btree"]
    tables = sorted({i.table_oid for i in all_indexes})
    columns = _columns(conn, tables)
    rows: dict[int, float] = dict(
        conn.execute("SELECT oid, reltuples FROM pg_class WHERE oid = ANY(%s)", [tables]).fetchall()
    )
    findings = []
    for index in all_indexes:
        held = [
            columns[(index.table_oid, n)]
            for n in index.key_attnums + index.include_attnums
            if (index.table_oid, n) in columns
        ]
        wide = [c for c in held if max_width(c[0]) is None]
        if not wide:
            continue
        fixed = [max_width(c[0]) or 0 for c in held if max_width(c[0]) is not None]
        described = ", ".join(f"{c.name} ({c.type_name})" for c, _ in wide)
        widest = ""
        if 0 <= rows.get(index.table_oid, 0) <= options.widest_entry_max_rows:
            widest = _widest(conn, index, wide)
        findings.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} holds unbounded column(s) "
                f"{described}: an entry over {BTREE_MAX_ENTRY_BYTES} bytes makes the INSERT "
                f"fail{widest}. Bound the column(s) (the fix) or rebuild the index without them",
                _fix(index, wide, fixed),
            )
        )
    return findings
