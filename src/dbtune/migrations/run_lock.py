"""One Alembic run per database at a time, through a session advisory lock.

Two ``alembic upgrade head`` at once (two pods starting, a deploy racing an operator) would
build the same index concurrently, and one would see the other's INVALID in-progress index and
drop it. ``env.py`` takes this lock before running any revision: a second run waits for the
first (up to ``-x migration_lock_wait=``, ``DBTUNE_MIGRATION_LOCK_WAIT``, default 10min), saying
which session holds it, and then finds nothing left to do. Advisory locks are per database.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from dbtune.errors import MigrationError
from dbtune.migrations.tunables import duration_s

log = logging.getLogger("dbtune.migrations")

# Two int4 keys: (b'dbtu', 1). Readable in pg_locks as classid / objid.
LOCK_CLASS, LOCK_ID = 0x64627475, 1
DEFAULT_WAIT = "10min"
POLL_S = 0.5

_HOLDER = sa.text(
    """
    SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local'),
           to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), left(coalesce(a.query, ''), 120)
    FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c AND l.objid = :o
      AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)


def lock_key(version_table_schema: str | None) -> int:
    """The lock's second key: 1 for a database's chain, one per schema for a tenant's (a
    schema-per-tenant fleet migrates its tenants side by side, each under its own lock)."""
    if not version_table_schema:
        return LOCK_ID
    return (zlib.crc32(version_table_schema.encode("utf-8")) & 0x7FFFFFFF) | 2


def holder(conn: sa.Connection, key: int = LOCK_ID) -> str:
    row = conn.execute(_HOLDER, {"c": LOCK_CLASS, "o": key}).first()
    if row is None:
        return "a session that has just let go"
    pid, app, client, since, query = row
    return f"pid {pid} ({app or 'no application_name'}, {client}, connected {since}): {query}"


def _try(conn: sa.Connection, key: int) -> bool:
    got = bool(
        conn.execute(
            sa.text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": LOCK_CLASS, "o": key}
        ).scalar()
    )
    # The lock outlives transactions; end the one its query opened. A waiter must hold no
    # transaction either: the holder's CREATE INDEX CONCURRENTLY waits for every older
    # snapshot, so a waiter blocked inside a transaction would deadlock with it.
    conn.commit()
    return got


@contextmanager
def migration_lock(
    conn: sa.Connection, wait: str = DEFAULT_WAIT, key: int = LOCK_ID
) -> Iterator[None]:
    """Hold the database's (or, with a schema's ``key``, the tenant's) migration lock on
    ``conn`` for the body (a session lock)."""
    if not _try(conn, key):
        log.warning(
            "another migration run holds this database's migration lock: %s; waiting up to %s",
            holder(conn, key),
            wait,
        )
        conn.commit()
        deadline = time.monotonic() + duration_s(wait, "migration_lock_wait")
        while not _try(conn, key):
            if time.monotonic() > deadline:
                who = holder(conn, key)
                conn.commit()
                raise MigrationError(
                    f"another migration run held this database's migration lock for over "
                    f"{wait}: {who}. Wait for it to finish (or end it), then run again; "
                    "-x migration_lock_wait=30min waits longer"
                )
            time.sleep(POLL_S)
    try:
        yield
    finally:
        try:
            conn.rollback()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :o)"), {"c": LOCK_CLASS, "o": key})
            conn.commit()
        except sa.exc.DBAPIError:
            pass  # the connection is gone, and its session lock with it


def validated_wait(value: str) -> str:
    duration_s(value, "migration_lock_wait")
    return value
