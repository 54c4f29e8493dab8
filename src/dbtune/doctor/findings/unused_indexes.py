"""unused_indexes: indexes never scanned since the statistics were reset.

Problem: an index no query reads still costs every INSERT and UPDATE and its share of memory.
Evidence: ``pg_stat_user_indexes.idx_scan = 0`` for an index above a size threshold (10 MB by
default), not a primary-key, unique or constraint index, nor the index led by a foreign key's
columns (it is read only when a parent row is deleted, and dropping it would create the
``unindexed_foreign_keys`` problem); the report says since when the
statistics count (``pg_stat_database.stats_reset``). Fix: check that the workload really never
needs it — statistics are per server, so look at every replica — then drop it concurrently.
"""

from __future__ import annotations

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor.catalog import drop_index_sql, indexes

ID = "unused_indexes"


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    scans: dict[int, int] = dict(
        conn.execute("SELECT indexrelid, idx_scan FROM pg_stat_user_indexes").fetchall()
    )
    row = conn.execute(
        "SELECT coalesce(to_char(stats_reset, 'YYYY-MM-DD HH24:MI TZ'), 'the server started "
        "collecting them') FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    since = row[0] if row else "?"
    fk_columns = {
        (int(t), tuple(int(a) for a in c))
        for t, c in conn.execute(
            "SELECT conrelid, conkey::int2[] FROM pg_constraint WHERE contype = 'f'"
        ).fetchall()
    }
    return [
        Finding(
            ID,
            index.qualified,
            f"index {index.qualified} on {index.table_qualified} ({index.bytes / 2**20:.1f} MB) "
            f"has not been scanned since {since}; statistics are per server, so drop it only "
            "if no replica uses it either",
            drop_index_sql(index),
        )
        for index in indexes(conn)
        if index.valid
        and not index.protected
        and index.bytes >= options.unused_min_bytes
        and scans.get(index.oid, 0) == 0
        and not any(
            t == index.table_oid and set(index.key_attnums[: len(c)]) == set(c)
            for t, c in fk_columns
        )
    ]
