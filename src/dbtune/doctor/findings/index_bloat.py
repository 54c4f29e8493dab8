"""index_bloat: a btree index much larger than its entries need (an estimate).

Problem: a btree keeps the pages that deletes and updates emptied; after a big delete, or
under a workload that updates indexed columns, an index can be several times the size its
entries need, and every scan and cache holds the difference. Evidence: an estimate from the
catalog alone: the table's rows at its last ANALYZE times the entry width (8-byte header,
``pg_stats.avg_width`` of the key and INCLUDE columns, aligned to 8, the 4-byte line pointer),
over the page space at btree's default fillfactor (90 %), against the index's size; an index of
at least ``bloat_min_bytes`` (1 MB) estimated at least ``bloat_fraction`` (50 %) empty. Fix:
``REINDEX INDEX CONCURRENTLY`` (builds a fresh copy beside it; writes go on).
"""

from __future__ import annotations

import math

from psycopg import sql

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "index_bloat"
PAGE = 8192
USABLE = PAGE - 24 - 16  # page header, btree special space
FILLFACTOR = 0.9
ENTRY_HEADER = 8
LINE_POINTER = 4


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import plain_btrees

    found = []
    for index in plain_btrees(catalog):
        table = catalog.health.tables.get(index.table_oid)
        attnums = index.key_attnums + index.include_attnums
        if table is None or table.tuples < 0 or index.bytes < options.bloat_min_bytes:
            continue
        if 0 in attnums or index.partitioned:
            continue
        widths = [catalog.health.column(index.table_oid, n) for n in attnums]
        if any(c is None or c.avg_width is None for c in widths):
            continue
        data = sum(c.avg_width or 0 for c in widths if c is not None)
        entry = ENTRY_HEADER + math.ceil(data / 8) * 8 + LINE_POINTER
        needed = math.ceil(table.tuples * entry / (USABLE * FILLFACTOR)) + 1  # + the metapage
        pages = index.bytes // PAGE
        free = 1 - needed / max(pages, 1)
        if free < options.bloat_fraction:
            continue
        found.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} takes {index.bytes / 2**20:,.1f} MB; its entries "
                f"need about {needed * PAGE / 2**20:,.1f} MB (estimated {free:.0%} empty)",
                sql.SQL("REINDEX INDEX CONCURRENTLY {};").format(index.identifier).as_string(),
                severity="medium",
                index_oid=index.oid,
                columns=index.key_columns,
            )
        )
    return found
