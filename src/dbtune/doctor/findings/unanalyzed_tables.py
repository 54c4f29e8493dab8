"""unanalyzed_tables: tables that have never been analyzed.

Problem: a table without statistics (``pg_class.reltuples = -1``) is planned from guesses: the
planner may take a table of a million rows for a small one and scan it, and plan checks that
size tables from the statistics cannot judge it. Autovacuum analyzes a table only after enough
rows change, and a bulk load with autovacuum off, or a fresh restore, leaves it unanalyzed.
Evidence: ``reltuples < 0`` on a table or materialized view of at least 128 pages (1 MB; its
size from the file). Fix: ``ANALYZE`` it now (and let autovacuum keep it analyzed).
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "unanalyzed_tables"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_finding

    tables = sorted(catalog.tables.values(), key=lambda t: (t.schema, t.name))
    return [
        table_finding(
            ID,
            table,
            f"({table.pages:,} pages) has never been analyzed: the planner guesses "
            "its size, and may scan it as if it were small",
            "ANALYZE {};",
        )
        for table in tables
        if not table.analyzed and table.pages >= options.visibility_min_pages
    ]
