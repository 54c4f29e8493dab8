"""tables_with_missing_indexes: big tables read mostly by sequential scans.

Problem: a table of many rows that is read whole again and again is a query without its index
— at every call, every row. Evidence (runtime, since the statistics reset): at least
``missing_index_min_scans`` (50) sequential scans, more than the index scans of all its
indexes together, each reading on average at least as many rows as doctor's small-table
threshold (10,000). Fix: no statement is printed — find the query with ``pg_stat_statements``
(``dbtune workload capture``) and let ``dbtune explain`` and its advisor name the index.
"""

from __future__ import annotations

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding

ID = "tables_with_missing_indexes"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    index_scans: dict[int, int] = {}
    for index in catalog.indexes:
        index_scans[index.table_oid] = index_scans.get(index.table_oid, 0) + index.scans
    found = []
    for table in sorted(catalog.tables.values(), key=lambda t: (t.schema, t.name)):
        scans = table.seq_scans
        if scans < options.missing_index_min_scans or scans <= index_scans.get(table.oid, 0):
            continue
        per_scan = table.seq_rows_read / scans
        if per_scan < options.small_rows:
            continue
        found.append(
            Finding(
                ID,
                quoted(table.schema, table.name),
                f"{quoted(table.schema, table.name)} was read by {scans:,} sequential scans "
                f"({per_scan:,.0f} rows each) and {index_scans.get(table.oid, 0):,} index "
                "scans since the statistics reset: a frequent query has no index",
                "",
                severity="medium",
                table_oid=table.oid,
            )
        )
    return found
