"""unlogged_tables: tables that lose their rows on a crash and do not reach replicas.

Problem: an UNLOGGED table writes no WAL: fast, and after a crash (or a failover) it is
emptied; its rows never reach a streaming replica, so reads sent to one see an empty table.
Right for a cache; a surprise for anything else (it is sometimes left over from a bulk load).
Evidence: ``pg_class.relpersistence = 'u'``. Fix: ``ALTER TABLE ... SET LOGGED`` (it rewrites
the table and writes all of it to WAL, under ACCESS EXCLUSIVE), if the rows matter.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "unlogged_tables"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_finding

    tables = sorted(catalog.health.tables.values(), key=lambda t: (t.schema, t.name))
    return [
        table_finding(
            ID,
            table,
            "is UNLOGGED: emptied by a crash or a failover, and empty on every replica",
            "ALTER TABLE {} SET LOGGED;",
            undo="ALTER TABLE {} SET UNLOGGED;",
        )
        for table in tables
        if table.persistence == "u" and table.kind == "r"
    ]
