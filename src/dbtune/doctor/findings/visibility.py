"""visibility: tables with covering indexes whose pages are mostly not all-visible.

Problem: an Index Only Scan skips the table only for pages the visibility map marks
all-visible; after heavy writes, when autovacuum lags, it fetches a heap page for most rows and
is an index scan in disguise. Evidence: a table with a covering index (one with INCLUDE
columns) where the all-visible share is under 80 % (tables under 128 pages are ignored). The
share is ``pg_class.relallvisible / relpages`` as of the last VACUUM or ANALYZE, lowered by the
rows written since (``n_dead_tup + n_ins_since_vacuum`` over ``reltuples`` from
``pg_stat_user_tables``): each such row leaves its page not all-visible. Fix: ``VACUUM
(ANALYZE)`` the table now; lower its ``autovacuum_vacuum_insert_scale_factor`` /
``autovacuum_vacuum_scale_factor`` so it stays so.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident

ID = "visibility"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    covered = {i.table_oid for i in catalog.inspectable() if i.valid and i.include}
    findings = []
    for oid in sorted(covered, key=lambda o: catalog.tables[o].name if o in catalog.tables else ""):
        table = catalog.tables.get(oid)
        if table is None or table.pages < options.visibility_min_pages:
            continue
        changed = min(1.0, table.written / max(table.tuples, 1.0))
        visible = table.all_visible_pages / table.pages
        share = visible * (1.0 - changed)
        if share >= options.all_visible_min:
            continue
        qualified = quoted(table.schema, table.name)
        findings.append(
            Finding(
                ID,
                qualified,
                f"about {share:.0%} of {qualified}'s {table.pages:,} pages are all-visible "
                f"({visible:.0%} at the last vacuum, {int(table.written):,} rows written "
                "since): its index-only scans fetch heap pages",
                sql.SQL(
                    "VACUUM (ANALYZE) {}; ALTER TABLE {} SET "
                    "(autovacuum_vacuum_insert_scale_factor = 0.05, "
                    "autovacuum_vacuum_scale_factor = 0.05);"
                )
                .format(ident(table.schema, table.name), ident(table.schema, table.name))
                .as_string(),
                table_oid=table.oid,
            )
        )
    return findings
