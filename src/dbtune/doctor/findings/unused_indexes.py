"""unused_indexes: indexes never scanned since the statistics were reset.

Problem: an index no query reads still costs every INSERT and UPDATE and its share of memory.
Evidence: ``pg_stat_user_indexes.idx_scan = 0`` for an index above a size threshold (10 MB by
default), not a primary-key, unique or constraint index, nor the index led by a foreign key's
columns (it is read only when a parent row is deleted, and dropping it would create the
``unindexed_foreign_keys`` problem); the report says since when the
statistics count (``pg_stat_database.stats_reset``). Fix: check that the workload really never
needs it — statistics are per server, so look at every replica — then drop it concurrently.
"""

from __future__ import annotations

from dbtune.catalog import Catalog, drop_index_sql, rebuild_sql
from dbtune.doctor import DoctorOptions, Finding

ID = "unused_indexes"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    fk_columns = {(k.table_oid, k.attnums) for k in catalog.foreign_keys}
    return [
        Finding(
            ID,
            index.qualified,
            f"index {index.qualified} on {index.table_qualified} ({index.bytes / 2**20:.1f} MB) "
            f"has not been scanned since {catalog.stats_since}; statistics are per server, so "
            "drop it only if no replica uses it either",
            drop_index_sql(index),
            index_oid=index.oid,
            columns=index.key_columns,
            undo=f"{rebuild_sql(index)};",
        )
        for index in catalog.inspectable()
        if index.valid
        and not index.protected
        and index.bytes >= options.unused_min_bytes
        and index.scans == 0
        and not any(
            t == index.table_oid and set(index.key_attnums[: len(c)]) == set(c)
            for t, c in fk_columns
        )
    ]
