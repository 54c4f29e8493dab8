"""drop_index_blocking: DROP INDEX without CONCURRENTLY on an existing index.

Problem: a plain ``DROP INDEX`` takes ACCESS EXCLUSIVE on the index's table: when a long query
or transaction uses the table, the DROP waits, and every read and write queued behind it waits
too. Evidence: an index that existed when the revision began is gone after the statement (its
OID no longer in ``pg_class``), and the statement's parse tree is a ``DropStmt`` of indexes
without ``concurrent``. Fix: ``drop_index_online(name, table)`` — ``DROP INDEX CONCURRENTLY``
under a short ``lock_timeout``, retried.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import ObjectType

from dbtune.sql.helper_calls import drop_index
from dbtune.trace.parsed import is_concurrent
from dbtune.trace.record import Relation, RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "drop_index_blocking"


def _drop_call(index: Relation, revision: RevisionTrace) -> str:
    tables = [
        r for s in revision.statements for r in (*s.targets, *(k.relation for k in s.locks))
        if r.oid == index.table_oid
    ]  # fmt: skip
    table = tables[0].relname if tables else "table"
    return drop_index(index.relname, table, schema=index.schema).text()


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        plain = any(
            isinstance(n, ast.DropStmt)
            and n.removeType == ObjectType.OBJECT_INDEX
            and not is_concurrent(n)
            for n in statement.nodes
        )
        if not plain:
            continue
        for index in statement.dropped:
            if index.kind == "i" and revision.existed(index):
                hits.append(
                    Hit(
                        statement.number,
                        index.name,
                        f"`{shown(statement.sql)}` took ACCESS EXCLUSIVE on the index's table: "
                        "behind one long query, every read and write of the table queues",
                        _drop_call(index, revision),
                    )
                )
    return hits
