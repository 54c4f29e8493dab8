"""unindexed_foreign_keys: foreign keys whose referencing columns lead no index.

Problem: deleting (or re-keying) a referenced row makes PostgreSQL look up the referencing rows;
without an index led by the foreign-key columns that is a sequential scan of the child table,
per deleted parent row, under a lock. Evidence: a foreign-key constraint whose columns are not
the leading key columns (in any order) of a valid index on the referencing table; the table's
sequential scans since the statistics reset say what it costs reads. Fix: ``CREATE INDEX
CONCURRENTLY`` on those columns — or, when a query of the workload (``--workload``, or
``[tool.dbtune] workload``) filters on them, on the columns that query needs: the key's
columns, its other equalities on the table, then its ORDER BY.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, ForeignKey, IndexInfo, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import MAX_IDENTIFIER_BYTES, IndexKey, IndexSpec
from dbtune.sql.shape import shape
from dbtune.sql.text import SqlTextError

ID = "unindexed_foreign_keys"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


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


def _hot_key(
    catalog: Catalog, key: ForeignKey, queries: tuple[tuple[str, str], ...]
) -> tuple[str, list[tuple[str, bool]]] | None:
    """A workload query that filters on the key's columns, and the index columns that serve
    it: the key's columns, its other equalities on the table, then its ORDER BY."""
    names = {
        c.name for (t, _), c in catalog.health.columns.items() if t == key.table_oid
    }  # the table's columns, as the catalog spells them
    for name, text in queries:
        try:
            used = shape(text).tables
        except SqlTextError:
            continue
        for table in used:
            if table.name != key.table or table.schema not in (None, key.schema):
                continue
            matched = {c.column for c in table.conditions if c.kind in ("eq", "in")}
            if not set(key.columns) <= matched:
                continue
            # single-value equalities join the key; a multi-valued IN would break the order
            equal = [c.column for c in table.conditions if c.kind == "eq"]
            columns = [(c, False) for c in key.columns]
            columns += [(c, False) for c in dict.fromkeys(equal) if c not in key.columns]
            columns += [(c, d) for c, d in table.order_by if c not in {x for x, _ in columns}]
            if all(c in names for c, _ in columns):
                return name, columns
    return None


def _covered(valid: list[IndexInfo], key: ForeignKey) -> bool:
    wanted = set(key.attnums)
    return any(
        i.table_oid == key.table_oid and set(i.key_attnums[: len(wanted)]) == wanted for i in valid
    )


def _message(
    catalog: Catalog, key: ForeignKey, hot: str | None, columns: list[tuple[str, bool]]
) -> str:
    table, parent = quoted(key.schema, key.table), quoted(key.parent_schema, key.parent)
    serves = (
        f"; the workload's query {hot} filters on it: the index below serves that "
        f"query too ({', '.join(c + (' DESC' if d else '') for c, d in columns)})"
        if hot
        else ""
    )
    partitioned = (
        " (a partitioned table: the fix is a plain build, which blocks writes to "
        "each partition while it runs; online instead: CREATE INDEX ON ONLY the "
        "table, CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX ... "
        "ATTACH PARTITION)"
        if key.partitioned
        else ""
    )
    return (
        f"foreign key {quoted(key.name)} ({table} "
        f"({', '.join(quoted(c) for c in key.columns)}) -> {parent}) has no index led "
        f"by its column(s): deleting from {parent} scans {table}"
        + _reads(catalog, key.table_oid, key.columns)
        + serves
        + partitioned
    )


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    valid = [i for i in catalog.inspectable() if i.valid and not i.predicate]
    findings = []
    for key in catalog.foreign_keys:
        if _covered(valid, key):
            continue
        hot = _hot_key(catalog, key, options.hot_queries)
        columns = hot[1] if hot else [(c, False) for c in key.columns]
        name = index_name(key.table, tuple(c for c, _ in columns))
        keys = tuple(IndexKey(c, descending=d) for c, d in columns)
        # CONCURRENTLY is refused on a partitioned table: a plain build, said so.
        build = IndexSpec(name, key.table, keys).statement(
            key.schema, concurrently=not key.partitioned
        )
        undo = sql.SQL("DROP INDEX CONCURRENTLY {};").format(ident(key.schema, name))
        findings.append(
            Finding(
                ID,
                f"{quoted(key.schema, key.table)}.{quoted(key.name)}",
                _message(catalog, key, hot[0] if hot else None, columns),
                build.as_string() + ";",
                table_oid=key.table_oid,
                columns=key.columns,
                undo=undo.as_string(),
            )
        )
    return findings
