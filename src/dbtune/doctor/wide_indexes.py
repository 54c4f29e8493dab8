"""wide_indexes: indexes holding a column of unbounded width (the 2704-byte hazard).

Problem: a btree entry larger than 2704 bytes is an error at INSERT time; an index whose key or
INCLUDE columns are ``text``, ``jsonb``, ``bytea`` or ``varchar`` without a length (and not
bounded by a validated ``CHECK (char_length(col) <= n)``) makes that INSERT possible — one long,
poorly compressible value is enough. Evidence: the column types in the catalog; on tables small
enough to scan cheaply, the widest current value is reported too. Fix: rebuild the index
without the column (fetch it from the table), or bound the column with a CHECK constraint.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor._catalog import indexes
from dbtune.index_spec import ColumnType, length_bound, max_width

ID = "wide_indexes"

_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
       CASE WHEN ty.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END
FROM pg_attribute AS a JOIN pg_type AS ty ON ty.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY(%s)
"""
_CHECKS = """
SELECT conrelid, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'c' AND convalidated AND cardinality(conkey) = 1 AND conrelid = ANY(%s)
"""


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    all_indexes = [i for i in indexes(conn) if i.method == "btree"]
    tables = sorted({i.table_oid for i in all_indexes})
    bounds: dict[tuple[int, str], int] = {}
    for table_oid, definition in conn.execute(_CHECKS, [tables]).fetchall():
        found = length_bound(definition)
        if found:
            bounds[(table_oid, found[0])] = found[1]
    columns: dict[tuple[int, str], ColumnType] = {}
    for table_oid, name, type_name, typlen, chars in conn.execute(_COLUMNS, [tables]).fetchall():
        limit = chars if chars is not None else bounds.get((table_oid, name))
        columns[(table_oid, name)] = ColumnType(name, type_name, int(typlen), limit)
    rows: dict[int, float] = dict(
        conn.execute("SELECT oid, reltuples FROM pg_class WHERE oid = ANY(%s)", [tables]).fetchall()
    )

    findings = []
    for index in all_indexes:
        wide = [
            columns[(index.table_oid, c)]
            for c in index.key_columns + index.include
            if (index.table_oid, c) in columns and max_width(columns[(index.table_oid, c)]) is None
        ]
        if not wide:
            continue
        described = ", ".join(f"{c.name} ({c.type_name})" for c in wide)
        widest = ""
        if 0 <= rows.get(index.table_oid, 0) <= options.widest_entry_max_rows:
            measure = sql.SQL("SELECT max({}) FROM {}.{}").format(
                sql.SQL(" + ").join(
                    sql.SQL("coalesce(pg_column_size({}), 0)").format(sql.Identifier(c.name))
                    for c in wide
                ),
                sql.Identifier(index.schema),
                sql.Identifier(index.table),
            )
            value = conn.execute(measure).fetchone()
            if value and value[0] is not None:
                widest = f"; the widest current value takes {int(value[0]):,} bytes"
        findings.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table} holds unbounded column(s) {described}: "
                f"an entry over 2704 bytes makes the INSERT fail{widest}",
                "rebuild it without those columns (CREATE INDEX CONCURRENTLY ... then DROP INDEX "
                f"CONCURRENTLY {index.qualified};), or bound them with "
                "CHECK (char_length(col) <= n) NOT VALID + VALIDATE",
            )
        )
    return findings
