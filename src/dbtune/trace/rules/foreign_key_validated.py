"""foreign_key_validated: a foreign key added to an existing table and validated at once.

Problem: ``ADD FOREIGN KEY`` without ``NOT VALID`` checks every row in the same statement,
holding SHARE ROW EXCLUSIVE on *both* tables: writes to the table and to the table it
references wait for the whole check. Evidence: a new ``pg_constraint`` row of type ``f``,
already ``convalidated``, on a table that existed when the revision began; the locks on both
tables and the sequential scans the check ran (``pg_stat_xact_user_tables``) are reported.
Fix: ``add_foreign_key_online(...)`` — ``NOT VALID`` first (a brief lock), then ``VALIDATE
CONSTRAINT`` in its own transaction, which takes a lock that lets writes through.
"""

from __future__ import annotations

from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "foreign_key_validated"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        for constraint in statement.constraints:
            if not (constraint.contype == "f" and constraint.new and constraint.validated):
                continue
            if not revision.existed(constraint.table):
                continue
            locked = sorted(
                {f"{lock.spelled} on {lock.relation.name}" for lock in statement.locks
                 if lock.blocks_writes and lock.relation.kind in ("r", "p")}
            )  # fmt: skip
            scans = ", ".join(f"{s.relation.name} ({s.rows:,} rows)" for s in statement.scanned)
            evidence = "; ".join(
                part
                for part in (
                    f"held {', '.join(locked)}" if locked else "",
                    f"scanned {scans}" if scans else "",
                )
                if part
            )
            hits.append(
                Hit(
                    statement.number,
                    f"{constraint.table.name} {constraint.name}",
                    f"`{shown(statement.sql)}` validated the new key in the same statement"
                    + (f" ({evidence})" if evidence else "")
                    + ": writers of both tables wait for the check",
                    f"add_foreign_key_online({constraint.name!r}, source, columns, referent, "
                    "referent_columns)",
                )
            )
    return hits
