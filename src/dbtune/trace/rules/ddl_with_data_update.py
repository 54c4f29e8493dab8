"""ddl_with_data_update: a large data change in the same transaction as DDL on existing tables.

Problem: an ``UPDATE``, ``DELETE`` or ``INSERT`` (a query, or many VALUES) over many rows holds
those rows' locks until commit, and in the transaction of an ``ALTER TABLE`` it also keeps that
statement's lock for as long as the data change takes; it cannot be resumed when it fails
halfway, and it makes one huge WAL burst for the replicas. Evidence: in one transaction, a
statement whose parse tree is a data change with at least ``large_rows`` (1,000) rows affected
(the driver's row count), and a statement that newly took a write-blocking lock on a relation
that existed when the revision began (``pg_locks``). Fix: the schema change in its own
revision, and the data in another with ``backfill(table, set_sql, where=...)``: batches on the
primary key, each its own transaction, resumable after a crash, throttled on replica lag.
"""

from __future__ import annotations

from dbtune.trace.parsed import is_data_change
from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, existing_locks, shown

ID = "ddl_with_data_update"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    work = [s for s in revision.work() if not s.autocommit]
    for transaction in sorted({s.transaction for s in work}):
        here = [s for s in work if s.transaction == transaction]
        ddl = [s for s in here if existing_locks(revision, s)]
        if not ddl:
            continue
        for statement in here:
            if not any(is_data_change(n) for n in statement.nodes):
                continue
            if statement.rowcount < settings.large_rows:
                continue
            locked = sorted(
                {lock.relation.name for s in ddl for lock in existing_locks(revision, s)}
            )
            hits.append(
                Hit(
                    statement.number,
                    ", ".join(t.name for t in statement.targets[:1]) or "data change",
                    f"`{shown(statement.sql)}` changed {statement.rowcount:,} rows in the "
                    f"transaction that also locks {', '.join(locked)} (statement "
                    f"{', '.join('#' + str(s.number) for s in ddl)}): one unresumable "
                    "transaction holding both",
                    "the DDL in one revision, the data in another with backfill(table, "
                    "set_sql, where=...)",
                )
            )
    return hits
