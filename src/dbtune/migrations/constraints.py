"""CHECK constraints added and dropped without blocking writers for a table scan.

``ADD CONSTRAINT ... NOT VALID`` needs an ACCESS EXCLUSIVE lock only for a catalog change;
``VALIDATE CONSTRAINT`` then scans the table under SHARE UPDATE EXCLUSIVE, which lets reads and
writes go on. Each ALTER waits at most ``lock_timeout`` and is retried by the same
:class:`~dbtune.migrations.lock_retry.LockRetry` as the index builds. The ADDs run first, each
committed on its own; the validations run in the revision's own transaction, each attempt in a
savepoint, so a failed validation rolls back with the revision and a re-run retries it.
Constraints are found by name *and* table OID, so a mixed-case name is never mistaken for its
lowercase twin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.catalog import ResolvedTable
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import LockRetry
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.statements import drop_constraint, execute, validate_constraint
from dbtune.migrations.tunables import Tunables, tunables
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import check_identifier
from dbtune.sql.text import SqlTextError, check_expression

_STATE = sa.text(
    "SELECT convalidated FROM pg_constraint WHERE conrelid = :table_oid AND conname = :name"
)


def _state(conn: sa.Connection, table: ResolvedTable, name: str) -> bool | None:
    """None when missing, else whether it is validated."""
    row = conn.execute(_STATE, {"table_oid": table.oid, "name": name}).first()
    return None if row is None else bool(row[0])


def _checked(table_name: str, schema: str | None, names: Sequence[str]) -> None:
    for identifier in (table_name, *([schema] if schema else []), *names):
        check_identifier(identifier)


@shown_by_alembic
def add_checks_online(
    table_name: str,
    checks: Mapping[str, str],
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """Add CHECK constraints (name -> condition SQL) NOT VALID, then VALIDATE them."""
    _checked(table_name, schema, list(checks))
    for name, condition in checks.items():
        try:
            check_expression(condition)
        except SqlTextError as exc:
            raise MigrationError(
                f"CHECK {name}: the condition is not one expression: {exc}"
            ) from None
    context = op.get_context()
    budget = tunables(context, lock_timeout, lock_retries)
    if context.as_sql:
        with context.autocommit_block():
            offline.add_checks(table_name, schema, checks, budget.lock_timeout)
        offline.validate_checks(table_name, schema, list(checks), budget.lock_timeout)
        return
    with context.autocommit_block():
        conn = op.get_bind()
        table = require_table(conn, table_name, schema)
        with session_settings(conn, budget.lock_timeout):
            for name, condition in checks.items():
                if _state(conn, table, name) is None:
                    add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID").format(
                        table.identifier, ident(name), sql.SQL(condition)
                    )
                    _retry(conn, table, budget, f"add constraint {name} to {table.display}", add)
    _validate(op.get_bind(), table, list(checks), budget)


def _retry(
    conn: sa.Connection,
    table: ResolvedTable,
    budget: Tunables,
    what: str,
    statement: sql.Composable,
) -> None:
    # An ALTER cut short by lock_timeout changes nothing, so there is nothing to wait out first.
    retry = LockRetry(conn, what, (table.oid,), budget, every_lock=True, prewait=False)
    retry.run(lambda: execute(statement))


def _validate(
    conn: sa.Connection, table: ResolvedTable, names: list[str], budget: Tunables
) -> None:
    conn.execute(
        sa.text(
            "SELECT set_config('lock_timeout', :l, true), "
            "set_config('statement_timeout', '0', true)"
        ),
        {"l": budget.lock_timeout},
    )
    for name in names:
        if _state(conn, table, name):
            continue
        statement = validate_constraint(table.identifier, name)

        def attempt(statement: sql.Composable = statement) -> None:
            with conn.begin_nested():
                execute(statement)

        what = f"validate constraint {name} on {table.display}"
        LockRetry(conn, what, (table.oid,), budget, every_lock=True, prewait=False).run(attempt)


@shown_by_alembic
def drop_checks_online(
    table_name: str,
    names: Sequence[str],
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """``ALTER TABLE ... DROP CONSTRAINT IF EXISTS`` each, under a short lock_timeout, retried."""
    _checked(table_name, schema, names)
    run_operation(
        _DropChecks(table_name, schema, tuple(names)),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _DropChecks:
    table_name: str
    schema: str | None
    names: tuple[str, ...]

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        _drop(conn, require_table(conn, self.table_name, self.schema), self.names, budget)

    def as_sql(self, budget: Tunables) -> None:
        offline.drop_checks(self.table_name, self.schema, self.names, budget.lock_timeout)


def _drop(
    conn: sa.Connection, table: ResolvedTable, names: Sequence[str], budget: Tunables
) -> None:
    with session_settings(conn, budget.lock_timeout):
        for name in names:
            if _state(conn, table, name) is None:
                continue
            drop = drop_constraint(table.identifier, name)
            _retry(conn, table, budget, f"drop constraint {name} on {table.display}", drop)
