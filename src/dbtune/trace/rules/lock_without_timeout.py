"""lock_without_timeout: a lock that blocks writers taken with no lock_timeout.

Problem: a statement that needs ACCESS EXCLUSIVE (most ``ALTER TABLE``), SHARE (``CREATE
INDEX``) or SHARE ROW EXCLUSIVE (foreign keys) waits behind any running transaction that
touched the table — and while it waits, every later read or write of the table queues behind
*it*. Without ``lock_timeout`` that wait has no end: one slow report query takes the service
down. Evidence: the lock modes the statement newly held on existing relations (``pg_locks`` of
its own backend), and ``current_setting('lock_timeout')`` read just before it ran was 0. Fix:
dbtune's helpers set a short ``lock_timeout`` and retry with backoff (``-x lock_timeout=2s``);
around a plain ``op`` call, ``op.execute("SET LOCAL lock_timeout = '2s'")`` first, and
retrying the migration when it times out.
"""

from __future__ import annotations

from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, existing_locks, shown, timeout_off

ID = "lock_without_timeout"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        locks = existing_locks(revision, statement)
        if not locks or not timeout_off(statement.lock_timeout):
            continue
        held = ", ".join(sorted({f"{lock.spelled} on {lock.relation.name}" for lock in locks}))
        hits.append(
            Hit(
                statement.number,
                ", ".join(sorted({lock.relation.name for lock in locks})),
                f"`{shown(statement.sql)}` took {held} with lock_timeout = 0: behind one long "
                "transaction it would wait forever, and every query of the table behind it",
                "SET LOCAL lock_timeout = '2s' before it (and retry), or a dbtune helper, "
                "which does both",
            )
        )
    return hits
