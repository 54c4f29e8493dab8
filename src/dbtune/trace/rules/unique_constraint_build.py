"""unique_constraint_build: ADD UNIQUE or PRIMARY KEY that built its index inside ALTER TABLE.

Problem: ``ALTER TABLE ... ADD UNIQUE``/``PRIMARY KEY``/``EXCLUDE`` (and a new column declared
``UNIQUE``) builds the index while holding ACCESS EXCLUSIVE on the table: nothing reads or
writes it for the length of the build. Evidence: a new index (a new ``pg_class`` OID of kind
``i``) on a table that existed when the revision began, made by an ``ALTER TABLE`` statement
(not ``CREATE INDEX``, which is ``create_index_blocking``). Fix: ``add_unique_online(name,
table, columns)`` — the index ``CONCURRENTLY``, then ``ADD CONSTRAINT ... UNIQUE USING INDEX``
(a brief lock); for a primary key, ``create_index_online(..., unique=True)`` then ``ADD
PRIMARY KEY USING INDEX``.
"""

from __future__ import annotations

from pglast import ast

from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "unique_constraint_build"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        if not any(isinstance(n, ast.AlterTableStmt) for n in statement.nodes):
            continue
        for index in statement.created:
            if index.kind == "i" and index.table_oid in revision.existing:
                hits.append(
                    Hit(
                        statement.number,
                        index.name,
                        f"`{shown(statement.sql)}` built index {index.name} under ACCESS "
                        f"EXCLUSIVE ({statement.duration_ms:.0f} ms here): the table is closed "
                        "to reads and writes for the whole build",
                        f"add_unique_online({index.relname!r}, table, columns)",
                    )
                )
    return hits
