"""xid_wraparound: a table whose oldest unfrozen transaction ID is far behind.

Problem: PostgreSQL must freeze every row before its transaction ID is 2^31 transactions old;
when autovacuum cannot keep up (a long transaction, a table it keeps failing on, a vacuum that
is cancelled), the server first warns and finally refuses writes to the whole database until a
manual VACUUM finishes. Evidence: ``age(relfrozenxid)`` of each table at or above
``xid_age_max`` (1,200,000,000; autovacuum's own ``autovacuum_freeze_max_age`` defaults to
200,000,000, so a table this old means autovacuum has been failing for a long time), and the
database's ``age(datfrozenxid)``. Fix: ``VACUUM (FREEZE, VERBOSE)`` of the table, after finding
what held it back (``pg_stat_activity`` for old transactions, prepared transactions,
replication slots).
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "xid_wraparound"
LIMIT = 2**31


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_finding

    tables = sorted(catalog.health.tables.values(), key=lambda t: -t.xid_age)
    database_age = catalog.health.database_xid_age
    return [
        table_finding(
            ID,
            table,
            f"has transaction IDs {table.xid_age:,} old ({table.xid_age / LIMIT:.0%} "
            f"of the way to wraparound; the database as a whole: {database_age:,}): autovacuum "
            "is not freezing it",
            "VACUUM (FREEZE, VERBOSE) {};",
            "high",
        )
        for table in tables
        if table.xid_age >= options.xid_age_max and table.kind in ("r", "m")
    ]
