"""table_bloat: a table much larger than its live rows need (an estimate).

Problem: an UPDATE or DELETE leaves the old row version behind; VACUUM makes the space
reusable but does not give it back, so a table that once held far more rows, or whose vacuum
fell behind, keeps its size: every sequential scan, backup and cache reads the empty space.
Evidence: an estimate from the catalog alone (no table is read): the rows the table had at its
last ANALYZE (``reltuples``) times their width (``pg_stats.avg_width`` of each column, the
23-byte row header, the null bitmap, the 4-byte line pointer), over the page space its
fillfactor leaves, against ``relpages``; a table of at least ``bloat_min_bytes`` (1 MB) whose
estimated free space is at least ``bloat_fraction`` (50 %) of it. Fix: no statement is printed
— ``VACUUM FULL`` gives the space back but locks the table for the rewrite; pg_repack does it
online.
"""

from __future__ import annotations

import math

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding

ID = "table_bloat"
PAGE = 8192
PAGE_HEADER = 24
ROW_HEADER = 24  # 23 bytes, aligned
LINE_POINTER = 4


def expected_pages(catalog: Catalog, oid: int, widths: list[int | None]) -> int | None:
    """How many pages the table's live rows need (``widths``: its columns' average widths),
    or None when a column has no statistics."""
    table = catalog.health.tables.get(oid)
    if table is None or table.tuples < 0:
        return None
    if not widths or any(w is None for w in widths):
        return None
    row = ROW_HEADER + math.ceil(len(widths) / 8) + sum(w or 0 for w in widths) + LINE_POINTER
    room = (PAGE - PAGE_HEADER) * table.fillfactor / 100
    return math.ceil(table.tuples * row / room)


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    widths: dict[int, list[int | None]] = {}
    for (table_oid, _), column in catalog.health.columns.items():
        widths.setdefault(table_oid, []).append(column.avg_width)
    found = []
    for table in sorted(catalog.health.tables.values(), key=lambda t: (t.schema, t.name)):
        size = table.pages * PAGE
        if table.kind != "r" or size < options.bloat_min_bytes:
            continue
        needed = expected_pages(catalog, table.oid, widths.get(table.oid, []))
        if needed is None:
            continue
        free = 1 - needed / table.pages
        if free < options.bloat_fraction:
            continue
        found.append(
            Finding(
                ID,
                quoted(table.schema, table.name),
                f"{quoted(table.schema, table.name)} takes {size / 2**20:,.1f} MB; its "
                f"{table.tuples:,.0f} rows need about {needed * PAGE / 2**20:,.1f} MB "
                f"(estimated {free:.0%} empty): scans and backups read the rest",
                "",
                severity="medium",
                table_oid=table.oid,
            )
        )
    return found
