"""Opening tidy, observable connections for dbtune's own work (seed, explain, embedded setup).

Every session is tagged ``application_name=dbtune`` so a DBA can see it in ``pg_stat_activity``,
has a connect timeout so an unreachable host fails fast, and a failure becomes one
:class:`ConnectionFailed` line that names the target without its password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from dbtune.db.dsn import APPLICATION_NAME, describe, libpq_url, parse_target, redact
from dbtune.errors import ConnectionFailed, UsageError

CONNECT_TIMEOUT_S = 10


def connect_timeout(url: str) -> int:
    """Seconds to wait for a server: the URL's ``connect_timeout``, else libpq's
    ``PGCONNECT_TIMEOUT``, else :data:`CONNECT_TIMEOUT_S`. libpq alone would wait for ever;
    passing 10 s unconditionally overrode what a user had set, both ways (0 is libpq's
    "for ever", honoured for psycopg)."""
    given = parse_target(url).keywords.get("connect_timeout") or os.environ.get("PGCONNECT_TIMEOUT")
    if not given:
        return CONNECT_TIMEOUT_S
    try:
        return int(given)
    except ValueError:
        raise UsageError(
            f"connect_timeout {given!r} is not a whole number of seconds "
            "(in the URL or PGCONNECT_TIMEOUT)"
        ) from None


def connection_error_text(exc: BaseException) -> str:
    """The useful part of a driver error: its first non-empty lines, with passwords masked."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact("; ".join(lines[:2])) or type(exc).__name__


def connect(
    url: str, *, autocommit: bool = False, application_name: str = APPLICATION_NAME
) -> psycopg.Connection[tuple[Any, ...]]:
    """Connect with psycopg; a failure becomes a :class:`ConnectionFailed` saying what to do."""
    try:
        return psycopg.connect(
            libpq_url(url),
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout(url),
        )
    except psycopg.Error as exc:
        raise ConnectionFailed(
            f"cannot connect to {describe(url)}: {connection_error_text(exc)} "
            "(check the URL given with --dsn or DATABASE_URL, and that the server is running)"
        ) from None


def local_timeouts(
    conn: psycopg.Connection[tuple[Any, ...]], statement_ms: int, lock_ms: int
) -> None:
    """``statement_timeout`` and ``lock_timeout`` for the current transaction only, so a read
    of a user's database neither runs away nor queues behind another session's lock."""
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
        [str(statement_ms), str(lock_ms)],
    )


@contextmanager
def rolled_back(conn: psycopg.Connection[Any], *, read_only: bool = True) -> Iterator[None]:
    """A transaction that is always rolled back: a savepoint when ``conn`` is already in one
    (a test's, an ORM session's), read-only inside it then — allowed at any time, and undone
    by the savepoint's rollback."""
    nested = conn.info.transaction_status != TransactionStatus.IDLE
    previous = conn.read_only
    if not nested:
        conn.read_only = read_only
    try:
        with conn.transaction(force_rollback=True):
            if nested and read_only:
                conn.execute("SET TRANSACTION READ ONLY")
            yield
    finally:
        if not nested and not conn.closed:
            conn.read_only = previous  # the caller's connection, as it was
