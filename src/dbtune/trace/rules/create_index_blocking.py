"""create_index_blocking: CREATE INDEX without CONCURRENTLY on an existing table.

Problem: a plain ``CREATE INDEX`` holds a SHARE lock on the table for the whole build: every
INSERT, UPDATE and DELETE waits until the index is built, which grows with the table. Evidence:
an index appeared (a new ``pg_class`` OID) on a table that existed when the revision began, and
the parse tree of the statement that made it is an ``IndexStmt`` without ``concurrent``; the
SHARE lock is shown when the statement ran inside a transaction. Fix:
``create_index_online(name, table, columns)`` — ``CREATE INDEX CONCURRENTLY`` in an
``autocommit_block()``, a short ``lock_timeout`` retried, INVALID leftovers rebuilt.
"""

from __future__ import annotations

from pglast import ast

from dbtune.trace.parsed import create_index_call, is_concurrent
from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "create_index_blocking"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        builds = [
            n for n in statement.nodes if isinstance(n, ast.IndexStmt) and not is_concurrent(n)
        ]
        if not builds:
            continue
        for index in statement.created:
            if index.kind != "i" or index.table_oid not in revision.existing:
                continue
            share = [
                lock.spelled
                for lock in statement.locks
                if lock.relation.oid == index.table_oid and lock.blocks_writes
            ]
            held = f" held {share[0]} on the table" if share else " blocked the table's writers"
            hits.append(
                Hit(
                    statement.number,
                    index.name,
                    f"`{shown(statement.sql)}`{held} for the whole build "
                    f"({statement.duration_ms:.0f} ms here): writers wait until it ends",
                    create_index_call(builds[0]),
                )
            )
    return hits
