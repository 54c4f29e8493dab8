"""lock_held_across_statements: a lock that blocks writers, held while later statements work.

Problem: a lock is released only at commit. When a revision takes ACCESS EXCLUSIVE (or another
lock that blocks writers) on a table and then goes on — a second table's ``ALTER``, a scan, a
data change, anything slow — the first table stays closed for all of it, and two tables locked
in one transaction is how migrations deadlock with the application. Evidence: per transaction,
the write-blocking locks each statement newly took on existing relations (``pg_locks``), and
the later statements of the same transaction that scanned or rewrote an existing table,
changed ``large_rows`` (1,000) rows or more, locked another existing table or ran longer than
``slow_ms`` (100 ms); how long the lock stayed held until commit is measured. Fix: one locking
step per transaction — split the revision, or run each step in its own
``op.get_context().autocommit_block()``; dbtune's helpers commit each step on its own.
"""

from __future__ import annotations

from dbtune.trace.parsed import is_data_change
from dbtune.trace.record import RevisionTrace, StatementTrace
from dbtune.trace.rules import Hit, Settings, existing_locks, shown

ID = "lock_held_across_statements"


def _works(
    revision: RevisionTrace, later: StatementTrace, locked: set[int], settings: Settings
) -> str | None:
    """Why ``later`` keeps the earlier lock waiting, or None."""
    rewritten = [r.name for r in later.rewritten if revision.existed(r)]
    if rewritten:
        return "rewrote " + ", ".join(rewritten)
    scanned = [s.relation.name for s in later.scanned if revision.existed(s.relation)]
    if scanned:
        return "scanned " + ", ".join(scanned)
    if any(is_data_change(n) for n in later.nodes) and later.rowcount >= settings.large_rows:
        return f"changed {later.rowcount:,} rows"
    others = {
        lock.relation.name
        for lock in existing_locks(revision, later)
        if lock.relation.oid not in locked and lock.relation.table_oid not in locked
    }
    if others:
        return "locked " + ", ".join(sorted(others))
    if later.duration_ms >= settings.slow_ms:
        return f"ran {later.duration_ms:.0f} ms"
    return None


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    work = revision.work()
    for position, statement in enumerate(work):
        if statement.autocommit:
            continue
        locks = existing_locks(revision, statement)
        if not locks:
            continue
        locked = {lock.relation.oid for lock in locks}
        later = [s for s in work[position + 1 :] if s.transaction == statement.transaction]
        reasons = [
            (s, why) for s in later if (why := _works(revision, s, locked, settings)) is not None
        ]
        if not reasons:
            continue
        strongest = max(locks, key=lambda lock: lock.mode == "AccessExclusiveLock")
        what = "; ".join(f"#{s.number} `{shown(s.sql, 60)}` {why}" for s, why in reasons)
        hits.append(
            Hit(
                statement.number,
                strongest.relation.name,
                f"{strongest.spelled} on {strongest.relation.name} (taken by `"
                f"{shown(statement.sql, 60)}`) stayed held {statement.held_ms:.0f} ms until "
                f"commit while {what}",
                "one locking step per transaction: split the revision, or give each step its "
                "own autocommit_block(); dbtune's helpers commit each step on its own",
            )
        )
    return hits
