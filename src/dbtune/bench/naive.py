"""The naive covering index, ``INCLUDE (content, metadata)``: can it be built, what does it
reject?

A btree entry over 2704 bytes is an error. On realistic data some messages are long and barely
compressible, so the build itself may fail; when it succeeds, fresh realistic messages (from
the seed generator, with another seed) are inserted one by one and the rejected ones counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from dbtune.bench.latency import NO_INDEX, TABLES
from dbtune.db import connect
from dbtune.reference.seed import HISTORY_DAYS, MESSAGES_INSERT

NAIVE = "ix_bench_naive"


@dataclass(frozen=True, slots=True)
class NaiveResult:
    built: bool
    error: str | None
    size_bytes: int | None
    attempted: int
    rejected: int


def _fresh_messages(
    conn: psycopg.Connection[tuple[object, ...]], n: int
) -> list[tuple[object, ...]]:
    """``n`` new realistic messages, generated inside a rolled-back transaction."""
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT setseed(0.5)")
        row = conn.execute(
            "SELECT /* dbtune */ max(id), count(DISTINCT user_id) FROM conversation_history"
        ).fetchone()
        last = int(str(row[0])) if row and row[0] is not None else 0
        users = int(str(row[1])) if row and row[1] else 1
        conn.execute(
            MESSAGES_INSERT,
            {"users": users, "days": HISTORY_DAYS, "total": n, "lo": 1, "hi": n, "id_base": last},
        )
        return conn.execute(
            "SELECT /* dbtune */ user_id, role, content, message_type, metadata "
            "FROM conversation_history "
            "WHERE id > %s ORDER BY id",
            [last],
        ).fetchall()


def naive_include(url: str, inserts: int = 2000) -> NaiveResult:
    table, index = sql.Identifier(TABLES[NO_INDEX]), sql.Identifier(NAIVE)
    with connect(url, autocommit=True) as conn:
        try:
            conn.execute(
                sql.SQL(
                    "CREATE INDEX {} ON {} (user_id, created_at DESC) INCLUDE (content, metadata)"
                ).format(index, table)
            )
        except psycopg.Error as exc:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(index))
            return NaiveResult(False, str(exc).splitlines()[0], None, 0, 0)
        row = conn.execute("SELECT pg_relation_size(%s::regclass)", [NAIVE]).fetchone()
        size = int(str(row[0])) if row else None
        rejected = 0
        messages = _fresh_messages(conn, inserts)
        for message in messages:
            try:
                conn.execute(
                    sql.SQL(
                        "INSERT /* dbtune */ INTO {} "
                        "(user_id, role, content, message_type, metadata) "
                        "VALUES (%s, %s, %s, %s, %s)"
                    ).format(table),
                    message,
                )
            except psycopg.errors.ProgramLimitExceeded:
                rejected += 1
        conn.execute(sql.SQL("DROP INDEX {}").format(index))
    return NaiveResult(True, None, size, len(messages), rejected)
