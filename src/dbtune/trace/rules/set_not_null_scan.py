"""set_not_null_scan: SET NOT NULL that scanned an existing table under ACCESS EXCLUSIVE.

Problem: ``ALTER COLUMN ... SET NOT NULL`` must prove that no row is NULL; without help it reads
the whole table while holding ACCESS EXCLUSIVE. Since PostgreSQL 12 a validated
``CHECK (col IS NOT NULL)`` is that proof and the scan is skipped. Evidence: the statement's
parse tree holds ``SET NOT NULL`` on a table that existed when the revision began, and
``pg_stat_xact_user_tables`` counted a sequential scan of that table during it — so the same
revision traced on a server that uses the CHECK is not flagged. Fix:
``set_not_null_online(table, column)`` — CHECK ``NOT VALID``, ``VALIDATE`` (writes go on), then
``SET NOT NULL`` without a scan, then the CHECK is dropped.
"""

from __future__ import annotations

from pglast.enums import AlterTableType

from dbtune.trace.parsed import alter_commands
from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "set_not_null_scan"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        columns = [
            str(cmd.name)
            for node in statement.nodes
            for cmd in alter_commands(node)
            if cmd.subtype == AlterTableType.AT_SetNotNull
        ]
        if not columns:
            continue
        for scan in statement.scanned:
            if scan.relation.oid in {t.oid for t in statement.targets} and revision.existed(
                scan.relation
            ):
                hits.append(
                    Hit(
                        statement.number,
                        f"{scan.relation.name} ({', '.join(columns)})",
                        f"`{shown(statement.sql)}` scanned {scan.rows:,} rows of "
                        f"{scan.relation.name} under ACCESS EXCLUSIVE to prove no NULL",
                        f"set_not_null_online({scan.relation.relname!r}, {columns[0]!r})",
                    )
                )
    return hits
