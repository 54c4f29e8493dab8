"""unused_indexes: indexes never scanned since the statistics were reset, on any node.

Problem: an index no query reads still costs every INSERT and UPDATE and its share of memory.
Evidence: ``pg_stat_user_indexes.idx_scan = 0`` for an index above a size threshold (10 MB by
default), not a primary-key, unique or constraint index, nor the index led by a foreign key's
columns (it is read only when a parent row is deleted, and dropping it would create the
``unindexed_foreign_keys`` problem). Statistics are per server: with ``--replica DSN`` (each a
streaming replica of this primary, checked) the replicas' scans are added before an index is
called unused, and each node's statistics age is reported (``pg_stat_database.stats_reset``).
Fix: check that the workload really never needs it — without ``--replica``, look at every
replica yourself — then drop it concurrently (the undo builds it again).
"""

from __future__ import annotations

from dbtune.catalog import Catalog, IndexInfo
from dbtune.doctor import DoctorOptions, Finding
from dbtune.doctor.model import dropping

ID = "unused_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def _where(catalog: Catalog) -> str:
    nodes = catalog.health.replicas
    if not nodes:
        return (
            f"since {catalog.stats_since} on this server; statistics are per server, so drop "
            "it only if no replica uses it either (or pass --replica)"
        )
    others = "; ".join(f"{n.target}: since {n.stats_since}" for n in nodes)
    return f"on the primary since {catalog.stats_since}, nor on {len(nodes)} replica(s) ({others})"


def _unused(catalog: Catalog, index: IndexInfo) -> bool:
    return index.scans == 0 and catalog.health.replica_scans(index.oid) == 0


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    fk_columns = {(k.table_oid, k.attnums) for k in catalog.foreign_keys}
    return [
        dropping(
            ID,
            index,
            f"index {index.qualified} on {index.table_qualified} ({index.bytes / 2**20:.1f} MB) "
            f"has not been scanned {_where(catalog)}",
        )
        for index in catalog.inspectable()
        if index.valid
        and not index.protected
        and index.bytes >= options.unused_min_bytes
        and _unused(catalog, index)
        and not any(
            t == index.table_oid and set(index.key_attnums[: len(c)]) == set(c)
            for t, c in fk_columns
        )
    ]
