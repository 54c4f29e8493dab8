"""tables_without_primary_key: a table with no primary key.

Problem: without a primary key, rows cannot be addressed one by one: logical replication
cannot replicate its UPDATEs and DELETEs (without ``REPLICA IDENTITY FULL``), ORMs cannot map
it, duplicates creep in, and tools that batch by key (``backfill``, pg_repack) refuse it.
Evidence: a table or partitioned table (partitions are judged on their parent) with no
``pg_constraint`` row of type ``p``. Fix: no statement is printed — add one online: a unique
index built concurrently (``create_index_online(..., unique=True)``), then ``ALTER TABLE ...
ADD PRIMARY KEY USING INDEX`` (a brief lock).
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "tables_without_primary_key"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_finding

    tables = sorted(catalog.health.tables.values(), key=lambda t: (t.schema, t.name))
    return [
        table_finding(
            ID,
            table,
            "has no primary key: its UPDATEs and DELETEs cannot be replicated "
            "logically, and nothing stops duplicate rows",
        )
        for table in tables
        if table.kind in ("r", "p") and not table.partition and not table.has_primary_key
    ]
