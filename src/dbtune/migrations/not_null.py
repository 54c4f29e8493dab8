"""``SET NOT NULL`` without holding an ACCESS EXCLUSIVE lock for a table scan.

A plain ``ALTER TABLE ... ALTER COLUMN c SET NOT NULL`` scans the whole table under ACCESS
EXCLUSIVE: no reads, no writes, for as long as the scan takes. Since PostgreSQL 12 the scan is
skipped when a *validated* ``CHECK (c IS NOT NULL)`` already proves it, so the recipe is: add
that check ``NOT VALID`` (a catalog change), ``VALIDATE`` it (a scan under SHARE UPDATE
EXCLUSIVE, which lets reads and writes go on), ``SET NOT NULL`` (milliseconds), drop the check.
Every step is committed on its own and looked up in the catalog before it runs, so a run that
died at any step is finished by running it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.catalog import Column
from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.catalog import ResolvedTable, column, constraint, primary_key
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import retry_alter, sqlstate
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.statements import drop_constraint, undone, validate_constraint
from dbtune.migrations.statements import text as statement_text
from dbtune.migrations.tunables import Tunables
from dbtune.sql.identifiers import derived_name, ident
from dbtune.sql.index_spec import check_identifier, check_identifiers

CHECK_VIOLATION = "23514"


def not_null_check_name(table_name: str, column_name: str) -> str:
    """The temporary CHECK's name: ``ck_<table>_<column>_not_null``, hashed when too long.
    (PostgreSQL 18 names its own NOT NULL constraints ``<table>_<column>_not_null``.)"""
    return derived_name("ck", table_name, column_name, suffix="not_null")


@shown_by_alembic
def set_not_null_online(
    table_name: str,
    column_name: str,
    *,
    schema: str | None = None,
    check_name: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """Make ``column_name`` NOT NULL through a validated CHECK (see the module docstring)."""
    check_identifiers(table_name, column_name, schema)
    name = check_identifier(check_name or not_null_check_name(table_name, column_name))
    run_operation(
        _SetNotNull(table_name, schema, column_name, name),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _SetNotNull:
    table_name: str
    schema: str | None
    column_name: str
    check_name: str

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        table = require_table(conn, self.table_name, self.schema)
        set_not_null_steps(conn, table, self.column_name, self.check_name, budget)

    def as_sql(self, budget: Tunables) -> None:
        offline.set_not_null(
            self.table_name, self.schema, self.column_name, self.check_name, budget.lock_timeout
        )


def require_column(conn: sa.Connection, table: ResolvedTable, name: str) -> Column:
    found = column(conn, table, name)
    if found is None:
        raise MigrationError(
            f"column {ident(name).as_string()} does not exist in {table.display}; names are "
            "matched exactly (case-sensitive)"
        )
    return found


def set_not_null_steps(
    conn: sa.Connection, table: ResolvedTable, column_name: str, name: str, budget: Tunables
) -> None:
    """The four steps on a resolved table, in autocommit (each step its own transaction)."""
    target = require_column(conn, table, column_name)
    col = ident(column_name)
    with session_settings(conn, budget.lock_timeout):
        found = constraint(conn, table, name)
        if found is not None and found.kind != "c":
            raise MigrationError(
                f"{table.display} already has a constraint {name} that is not a CHECK; pass "
                "check_name= to use another name for the temporary check"
            )
        if not target.not_null:
            if found is None:
                add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID")
                retry_alter(
                    conn,
                    f"add constraint {name} to {table.display}",
                    (table.oid,),
                    budget,
                    add.format(table.identifier, ident(name), col),
                )
            if found is None or not found.validated:
                _validate(conn, table, column_name, name, budget)
            retry_alter(
                conn,
                f"set {column_name} NOT NULL on {table.display}",
                (table.oid,),
                budget,
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                    table.identifier, col
                ),
            )
        if constraint(conn, table, name) is not None:
            retry_alter(
                conn,
                f"drop constraint {name} on {table.display}",
                (table.oid,),
                budget,
                drop_constraint(table.identifier, name),
            )


def _validate(
    conn: sa.Connection, table: ResolvedTable, column_name: str, name: str, budget: Tunables
) -> None:
    validate = validate_constraint(table.identifier, name)
    try:
        retry_alter(conn, f"validate constraint {name} on {table.display}", (table.oid,),
                    budget, validate)  # fmt: skip
    except sa.exc.DBAPIError as exc:
        if sqlstate(exc) != CHECK_VIOLATION:
            raise
        example = _null_row(conn, table, column_name)
        dropped = _drop_quietly(conn, table, name)
        raise MigrationError(
            f"cannot set {column_name} NOT NULL on {table.display}: some rows hold NULL "
            f"(for example {example}). Fill them first (dbtune.migrations.backfill with "
            f"where='{ident(column_name).as_string()} IS NULL'), then run again. {dropped}"
        ) from None


def _null_row(conn: sa.Connection, table: ResolvedTable, column_name: str) -> str:
    keys = [name for name, _ in primary_key(conn, table)] or ["ctid"]
    shown = sql.SQL(", ").join(sql.Identifier(k) if k != "ctid" else sql.SQL(k) for k in keys)
    query = sql.SQL("SELECT /* dbtune */ {} FROM {} WHERE {} IS NULL LIMIT 1").format(
        shown, table.identifier, ident(column_name)
    )
    row = conn.execute(statement_text(query)).first()
    if row is None:
        return "none any more"
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, row, strict=True))


def _drop_quietly(conn: sa.Connection, table: ResolvedTable, name: str) -> str:
    """Take the temporary check away again, so a failed run leaves the table as it was."""
    drop = drop_constraint(table.identifier, name)
    if not undone(drop):
        return (
            f"The NOT VALID check {name} is left (it refuses new NULLs); the next run "
            f"validates it, or drop it: {drop.as_string()};"
        )
    return "Nothing was left behind."
