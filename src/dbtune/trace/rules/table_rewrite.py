"""table_rewrite: a statement rewrote an existing table under an ACCESS EXCLUSIVE lock.

Problem: changing a column's type to one that is not binary-compatible, adding a column with a
volatile default (``clock_timestamp()``, ``gen_random_uuid()``), ``SET LOGGED``/``UNLOGGED``,
``VACUUM FULL`` and ``CLUSTER`` copy the whole table and rebuild every index while holding
ACCESS EXCLUSIVE: every read and write of the table waits for the copy, which grows with the
table. Evidence: the table's ``pg_class.relfilenode`` changed during the statement (the server
wrote a new file) — not the statement's text, so a binary-compatible change such as
``varchar(20)`` to ``varchar(40)`` or a ``now()`` default is never flagged. Fix: for a column
type, ``change_column_type_online(...)`` when the server can do it without a rewrite (it asks
first), otherwise expand/contract (``add_column_online``, ``backfill``, switch the code, drop
the old column: docs/migrations.md); for a volatile default, ``add_column_online(table, column,
type_, default=...)``, which fills existing rows in batches.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import AlterTableType

from dbtune.trace.parsed import has_alter
from dbtune.trace.record import RevisionTrace, StatementTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "table_rewrite"


def _safer(statement: StatementTrace) -> str:
    nodes = statement.nodes
    if any(has_alter(n, AlterTableType.AT_AlterColumnType) for n in nodes):
        return (
            "change_column_type_online(table, column, new_type) when no rewrite is needed; "
            "else expand/contract: add_column_online(...), backfill(...), switch the code, "
            "drop the old column (docs/migrations.md)"
        )
    if any(has_alter(n, AlterTableType.AT_AddColumn) for n in nodes):
        return "add_column_online(table, column, type_, default=...): existing rows in batches"
    if any(has_alter(n, AlterTableType.AT_SetLogged, AlterTableType.AT_SetUnLogged) for n in nodes):
        return "no online form: run it in a maintenance window, or leave the table as it is"
    return "pg_repack, or a maintenance window: the copy holds ACCESS EXCLUSIVE throughout"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        if any(isinstance(n, ast.TruncateStmt) for n in statement.nodes):
            continue  # a new empty file, not a copy
        for table in statement.rewritten:
            if table.kind not in ("r", "m") or not revision.existed(table):
                continue
            indexes = [
                r.name for r in statement.rewritten if r.kind == "i" and r.table_oid == table.oid
            ]
            also = f" and rebuilt {', '.join(indexes)}" if indexes else ""
            hits.append(
                Hit(
                    statement.number,
                    table.name,
                    f"`{shown(statement.sql)}` rewrote {table.name} (new relfilenode){also} "
                    f"under ACCESS EXCLUSIVE, {statement.duration_ms:.0f} ms here: reads and "
                    "writes wait for the whole copy, which grows with the table",
                    _safer(statement),
                )
            )
    return hits
