"""null_heavy_indexes: a one-column index whose column is mostly NULL, without ``WHERE ... IS
NOT NULL``.

Problem: a btree stores an entry for every row, NULL or not; when most rows are NULL and the
queries look for values (``col = $1`` never matches NULL), most of the index is dead weight
that every insert still writes. Evidence: a valid, non-partial, one-column btree whose column's
``pg_stats.null_frac`` is at least 0.5 (the table must have been analyzed). Fix: build the
partial index ``... WHERE col IS NOT NULL`` concurrently, then drop the full one (the undo
builds the full one again).
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, drop_index_sql, rebuild_sql
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import derived_name, ident

ID = "null_heavy_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds
NULL_FRACTION = 0.5


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import key_columns, plain_btrees

    found = []
    for index in plain_btrees(catalog):
        columns = key_columns(catalog, index)
        if len(columns) != 1 or columns[0] is None or index.unique or index.include:
            continue
        column = columns[0]
        if column.null_frac is None or column.null_frac < NULL_FRACTION:
            continue
        partial = derived_name(index.name, suffix="not_null")
        build = sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} ({}) WHERE {} IS NOT NULL;").format(
            ident(partial),
            ident(index.schema, index.table),
            ident(column.name),
            ident(column.name),
        )
        found.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} ({column.name}): "
                f"{column.null_frac:.0%} of the rows are NULL, and each has an entry",
                f"{build.as_string()} {drop_index_sql(index)}",
                severity="low",
                index_oid=index.oid,
                restores=index.spec(),
                columns=(column.name,),
                undo=f"{rebuild_sql(index)}; "
                + sql.SQL("DROP INDEX CONCURRENTLY {};")
                .format(ident(index.schema, partial))
                .as_string(),
            )
        )
    return found
