"""check_validated: a CHECK constraint added to an existing table and validated at once.

Problem: ``ADD CONSTRAINT ... CHECK`` without ``NOT VALID`` reads every row while holding
ACCESS EXCLUSIVE: nothing reads or writes the table until the scan ends. Evidence: a new
``pg_constraint`` row of type ``c``, already ``convalidated``, on a table that existed when the
revision began, with the sequential scan that checked it. Fix: ``add_checks_online(table,
{name: condition})`` — ``NOT VALID`` (a brief lock), then ``VALIDATE CONSTRAINT`` in its own
transaction under SHARE UPDATE EXCLUSIVE, which lets reads and writes through.
"""

from __future__ import annotations

from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "check_validated"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        for constraint in statement.constraints:
            if not (constraint.contype == "c" and constraint.new and constraint.validated):
                continue
            if not revision.existed(constraint.table):
                continue
            scans = [s for s in statement.scanned if s.relation.oid == constraint.table.oid]
            scanned = f", scanning {scans[0].rows:,} rows" if scans else ""
            hits.append(
                Hit(
                    statement.number,
                    f"{constraint.table.name} {constraint.name}",
                    f"`{shown(statement.sql)}` validated the CHECK under ACCESS EXCLUSIVE"
                    f"{scanned}: the table is closed to reads and writes until it ends",
                    f"add_checks_online(table, {{{constraint.name!r}: condition}})",
                )
            )
    return hits
