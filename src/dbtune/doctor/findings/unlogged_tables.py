"""unlogged_tables: tables that lose their rows on a crash and do not reach replicas.

Problem: an UNLOGGED table writes no WAL: fast, and after a crash (or a failover) it is
emptied; its rows never reach a streaming replica, so reads sent to one see an empty table.
Right for a cache; a surprise for anything else (it is sometimes left over from a bulk load).
Evidence: ``pg_class.relpersistence = 'u'``. Fix: ``ALTER TABLE ... SET LOGGED`` (it rewrites
the table and writes all of it to WAL, under ACCESS EXCLUSIVE), if the rows matter.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident

ID = "unlogged_tables"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    return [
        Finding(
            ID,
            quoted(table.schema, table.name),
            f"{quoted(table.schema, table.name)} is UNLOGGED: emptied by a crash or a "
            "failover, and empty on every replica",
            sql.SQL("ALTER TABLE {} SET LOGGED;")
            .format(ident(table.schema, table.name))
            .as_string(),
            severity="medium",
            table_oid=table.oid,
            undo=sql.SQL("ALTER TABLE {} SET UNLOGGED;")
            .format(ident(table.schema, table.name))
            .as_string(),
        )
        for table in sorted(catalog.health.tables.values(), key=lambda t: (t.schema, t.name))
        if table.persistence == "u" and table.kind == "r"
    ]
