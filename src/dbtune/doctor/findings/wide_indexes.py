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

from psycopg import sql

from dbtune.catalog import Catalog, Column, IndexInfo, drop_index_sql, rebuild_sql
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import (
    ALIGNMENT_SLACK_BYTES,
    BTREE_MAX_ENTRY_BYTES,
    INDEX_TUPLE_HEADER_BYTES,
    MAX_BYTES_PER_CHAR,
    MAX_IDENTIFIER_BYTES,
    VARLENA_HEADER_BYTES,
    max_width,
)

ID = "wide_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds
TEXT_TYPES = {"text", "varchar", "bpchar", "citext"}


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
    if any(c.typname not in TEXT_TYPES for c in wide):
        return drop_index_sql(index)
    limit = bound_chars(fixed, len(wide))
    table = ident(index.schema, index.table)
    statements = []
    for column in wide:
        name = ident(_constraint_name(index.table, column.width.name))
        statements.append(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (char_length({}) <= {}) NOT VALID; "
                "ALTER TABLE {} VALIDATE CONSTRAINT {};"
            ).format(table, name, ident(column.width.name), sql.Literal(limit), table, name)
        )
    return sql.SQL(" ").join(statements).as_string()


def _undo(index: IndexInfo, wide: list[Column]) -> str:
    """What puts the table back as it was: the length CHECKs dropped, or the index rebuilt."""
    if any(c.typname not in TEXT_TYPES for c in wide):
        return f"{rebuild_sql(index)};"
    table = ident(index.schema, index.table)
    return " ".join(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {};")
        .format(table, ident(_constraint_name(index.table, c.width.name)))
        .as_string()
        for c in wide
    )


def _widest(measured: int | str | None) -> str:
    if measured is None:
        return ""
    if isinstance(measured, str):
        return f"; the widest current value was not measured ({measured})"
    return f"; the widest current value takes {measured:,} bytes"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    findings = []
    for index in catalog.inspectable():
        if index.method != "btree":
            continue
        held = catalog.held_columns(index)
        wide = [c for c in held if c.unbounded]
        if not wide:
            continue
        fixed = [max_width(c.width) or 0 for c in held if not c.unbounded]
        described = ", ".join(f"{c.width.name} ({c.width.type_name})" for c in wide)
        findings.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} holds unbounded column(s) "
                f"{described}: an entry over {BTREE_MAX_ENTRY_BYTES} bytes makes the INSERT "
                f"fail{_widest(catalog.widest.get(index.oid))}. Bound the column(s) (the fix) "
                "or rebuild the index without them",
                _fix(index, wide, fixed),
                severity="high",
                undo=_undo(index, wide),
                index_oid=index.oid,
                restores=index.spec() if any(c.typname not in TEXT_TYPES for c in wide) else None,
                columns=tuple(c.width.name for c in wide),
            )
        )
    return findings
