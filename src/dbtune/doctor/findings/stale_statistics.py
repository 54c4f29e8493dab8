"""stale_statistics: tables changed far past their last ANALYZE.

Problem: the planner chooses plans from the statistics of the last ANALYZE; after a bulk load,
a big delete or a backfill, autovacuum's analyze may not have run yet (or is switched off), and
the planner keeps planning for a table that no longer exists — a seq scan where an index would
do, a nested loop over a million rows it thinks are ten. Evidence: ``n_mod_since_analyze``
(rows inserted, updated or deleted since the last analyze) at least ``stale_min_rows`` (1,000)
and at least ``stale_fraction`` (20 %) of the rows the table had then (``reltuples``). Fix:
``ANALYZE`` the table (reads a sample; no lock that blocks reads or writes).
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident

ID = "stale_statistics"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    found = []
    for table in sorted(catalog.health.tables.values(), key=lambda t: (t.schema, t.name)):
        if table.kind != "r" or table.tuples < 0:
            continue  # never analyzed: unanalyzed_tables says so
        changed = table.modified_since_analyze
        if changed < options.stale_min_rows or changed < options.stale_fraction * table.tuples:
            continue
        found.append(
            Finding(
                ID,
                quoted(table.schema, table.name),
                f"{quoted(table.schema, table.name)}: {changed:,} rows changed since its last "
                f"ANALYZE, which counted {table.tuples:,.0f}: the planner plans for the old table",
                sql.SQL("ANALYZE {};").format(ident(table.schema, table.name)).as_string(),
                severity="medium",
                table_oid=table.oid,
            )
        )
    return found
