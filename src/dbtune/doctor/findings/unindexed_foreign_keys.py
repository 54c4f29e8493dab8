"""unindexed_foreign_keys: foreign keys whose referencing columns lead no index.

Problem: deleting (or re-keying) a referenced row makes PostgreSQL look up the referencing rows;
without an index led by the foreign-key columns that is a sequential scan of the child table,
per deleted parent row, under a lock. Evidence: a foreign-key constraint whose columns are not
the leading key columns (in any order) of a valid index on the referencing table. Fix:
``CREATE INDEX CONCURRENTLY`` on those columns.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.identifiers import ident
from dbtune.index_spec import MAX_IDENTIFIER_BYTES

ID = "unindexed_foreign_keys"


def index_name(table: str, columns: tuple[str, ...]) -> str:
    """``ix_<table>_<columns>``, cut to the 63 bytes PostgreSQL keeps."""
    name = f"ix_{table}_{'_'.join(columns)}"
    while len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        name = name[:-1]
    return name


def _reads(catalog: Catalog, table_oid: int, columns: tuple[str, ...]) -> str:
    """What the missing index may cost reads: the table's sequential scans since the reset."""
    stats = catalog.tables.get(table_oid)
    if stats is None or stats.seq_scans == 0 or stats.tuples < 1:
        return ""
    return (
        f"; and {quoted(stats.schema, stats.name)} was read whole {stats.seq_scans:,} times "
        f"({stats.seq_rows_read:,} rows) since the statistics reset: a query that filters on "
        f"{', '.join(quoted(c) for c in columns)} (the parent's children) reads every row "
        "without this index"
    )


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    valid = [i for i in catalog.inspectable() if i.valid and not i.predicate]
    findings = []
    for key in catalog.foreign_keys:
        wanted = set(key.attnums)
        if any(
            i.table_oid == key.table_oid and set(i.key_attnums[: len(wanted)]) == wanted
            for i in valid
        ):
            continue
        table, parent = quoted(key.schema, key.table), quoted(key.parent_schema, key.parent)
        # CONCURRENTLY is refused on a partitioned table: a plain build, said so below.
        build = (
            "CREATE INDEX {} ON {} ({});"
            if key.partitioned
            else ("CREATE INDEX CONCURRENTLY {} ON {} ({});")
        )
        fix = sql.SQL(build).format(
            ident(index_name(key.table, key.columns)),
            ident(key.schema, key.table),
            sql.SQL(", ").join(ident(c) for c in key.columns),
        )
        findings.append(
            Finding(
                ID,
                f"{table}.{quoted(key.name)}",
                f"foreign key {quoted(key.name)} ({table} "
                f"({', '.join(quoted(c) for c in key.columns)}) -> {parent}) has no index led "
                f"by its column(s): deleting from {parent} scans {table}"
                + _reads(catalog, key.table_oid, key.columns)
                + (
                    " (a partitioned table: the fix is a plain build, which blocks writes to "
                    "each partition while it runs; online instead: CREATE INDEX ON ONLY the "
                    "table, CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX ... "
                    "ATTACH PARTITION)"
                    if key.partitioned
                    else ""
                ),
                fix.as_string(),
                table_oid=key.table_oid,
                columns=key.columns,
                undo=sql.SQL("DROP INDEX CONCURRENTLY {};")
                .format(ident(key.schema, index_name(key.table, key.columns)))
                .as_string(),
            )
        )
    return findings
