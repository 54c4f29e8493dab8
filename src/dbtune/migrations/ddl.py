"""One statement the other helpers do not cover, run online: its own transaction, short lock
waits retried, the sessions in the way named.

``doctor --write-revision`` writes its other fixes (a ``CHECK ... NOT VALID``, a ``VALIDATE
CONSTRAINT``, ``SET LOGGED``) as :func:`execute_online` calls, so the revision imports dbtune's
helpers and nothing else, and runs each fix the way the helpers run theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import retry_alter
from dbtune.migrations.operation import run_operation, session_settings
from dbtune.migrations.statements import execute, set_lock_timeout
from dbtune.migrations.tunables import Tunables


class _Relations(Visitor):
    def __init__(self) -> None:
        self.found: list[tuple[str | None, str]] = []

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        self.found.append((node.schemaname, str(node.relname)))


def _parsed(statement: str) -> tuple[ast.Node, list[tuple[str | None, str]]]:
    try:
        tree = parse_sql(statement)
    except ParseError as exc:
        raise MigrationError(
            f"execute_online: not one SQL statement PostgreSQL parses: {exc}"
        ) from None
    if len(tree) != 1 or tree[0].stmt is None:
        raise MigrationError(
            f"execute_online takes exactly one statement, got {len(tree)}: call it once for each"
        )
    relations = _Relations()
    relations(tree[0].stmt)
    return tree[0].stmt, relations.found


@shown_by_alembic
def execute_online(
    statement: str, *, lock_timeout: str | None = None, lock_retries: int | None = None
) -> None:
    """Run ``statement`` (exactly one) outside the revision's transaction, each attempt
    waiting at most ``lock_timeout`` for its locks, retried with backoff; offline
    (``alembic upgrade --sql``) the same statement under ``SET lock_timeout``."""
    node, relations = _parsed(statement)
    run_operation(
        _Statement(statement.strip().rstrip(";"), type(node).__name__, tuple(relations)),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Statement:
    text: str
    kind: str  # the parse node, e.g. AlterTableStmt
    relations: tuple[tuple[str | None, str], ...]

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        oids = []
        for schema, name in self.relations:
            qualified = sql.Identifier(*([schema] if schema else []), name).as_string()
            row = conn.execute(sa.text("SELECT to_regclass(:n)::oid"), {"n": qualified}).first()
            if row is not None and row[0] is not None:
                oids.append(int(row[0]))
        what = f"run {self.kind} on {', '.join(n for _, n in self.relations) or 'the database'}"
        with session_settings(conn, budget.lock_timeout):
            retry_alter(conn, what, tuple(oids), budget, sql.SQL(self.text))

    def as_sql(self, budget: Tunables) -> None:
        execute(set_lock_timeout(budget.lock_timeout))
        execute(self.text)
        execute("RESET lock_timeout")
