"""array_btree_indexes: a btree index on an array column.

Problem: a btree compares whole arrays; it serves ``col = '{a,b}'`` and nothing else. The
queries an array column gets — ``col @> '{a}'``, ``'a' = ANY(col)``, ``col && $1`` — need a
GIN index, so the btree is written on every insert and read by none of them. Evidence: a valid,
non-partial btree with a key column whose type is an array (``typcategory = 'A'``). Fix: a GIN
index on the column, built concurrently, then the btree dropped (the undo builds the btree
again).
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, drop_index_sql, rebuild_sql
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import derived_name, ident

ID = "array_btree_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import key_columns, plain_btrees

    found = []
    for index in plain_btrees(catalog):
        arrays = [c for c in key_columns(catalog, index) if c is not None and c.category == "A"]
        if not arrays or index.unique:
            continue
        gin = derived_name(index.table, arrays[0].name, suffix="gin")
        build = sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} USING gin ({});").format(
            ident(gin), ident(index.schema, index.table), ident(arrays[0].name)
        )
        found.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} is a btree on array "
                f"column {arrays[0].name} ({arrays[0].type_sql}): it serves only whole-array "
                "equality; @>, && and = ANY need GIN",
                f"{build.as_string()} {drop_index_sql(index)}",
                severity="medium",
                index_oid=index.oid,
                restores=index.spec(),
                columns=index.key_columns,
                undo=f"{rebuild_sql(index)}; "
                + sql.SQL("DROP INDEX CONCURRENTLY {};")
                .format(ident(index.schema, gin))
                .as_string(),
            )
        )
    return found
