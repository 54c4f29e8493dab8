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

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor.catalog import indexes, quoted
from dbtune.identifiers import ident

ID = "visibility"


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    covered = sorted({i.table_oid for i in indexes(conn) if i.valid and i.include})
    rows = conn.execute(
        "SELECT c.relname, n.nspname, c.relpages, c.relallvisible, c.reltuples,"
        " coalesce(s.n_dead_tup, 0) + coalesce(s.n_ins_since_vacuum, 0) AS written"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.oid = ANY(%s) ORDER BY 1",
        [covered],
    ).fetchall()
    findings = []
    for table, schema, pages, visible, tuples, written in rows:
        if pages < options.visibility_min_pages:
            continue
        changed = min(1.0, written / max(float(tuples), 1.0))
        share = (visible / pages) * (1.0 - changed)
        if share < options.all_visible_min:
            qualified = quoted(schema, table)
            findings.append(
                Finding(
                    ID,
                    qualified,
                    f"about {share:.0%} of {qualified}'s {pages:,} pages are all-visible "
                    f"({visible / pages:.0%} at the last vacuum, {int(written):,} rows written "
                    "since): its index-only scans fetch heap pages",
                    sql.SQL(
                        "VACUUM (ANALYZE) {}; ALTER TABLE {} SET "
                        "(autovacuum_vacuum_insert_scale_factor = 0.05, "
                        "autovacuum_vacuum_scale_factor = 0.05);"
                    )
                    .format(ident(schema, table), ident(schema, table))
                    .as_string(),
                )
            )
    return findings
