"""invalid_indexes: INVALID indexes, left by a failed or cancelled concurrent build.

Problem: an INVALID index is never used for reads but is still updated by every write, and
``CREATE INDEX IF NOT EXISTS`` silently accepts it, so the migration that should have built it
reports success. Evidence: ``pg_index.indisvalid = false``. Fix: drop it concurrently and build
it again (``alembic upgrade head`` does both for dbtune's revisions).
"""

from __future__ import annotations

from dbtune.catalog import Catalog, drop_index_sql, rebuild_sql
from dbtune.doctor import DoctorOptions, Finding

ID = "invalid_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    return [
        Finding(
            ID,
            index.qualified,
            f"index {index.qualified} on {index.table_qualified} is INVALID: never read, "
            "still written"
            + (
                " (a partitioned index: the fix rebuilds it with a plain build, which blocks "
                "writes to each partition while it runs; online instead: CREATE INDEX ON ONLY "
                "the parent, CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX "
                "... ATTACH PARTITION)"
                if index.partitioned
                else ""
            ),
            f"{drop_index_sql(index)} {rebuild_sql(index)};",
            severity="high",
            index_oid=index.oid,
            columns=index.key_columns,
        )
        for index in catalog.inspectable()
        if not index.valid
    ]
