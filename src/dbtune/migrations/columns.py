"""New columns with defaults, and type changes, without rewriting the table under ACCESS
EXCLUSIVE.

Since PostgreSQL 11, ``ADD COLUMN ... DEFAULT expr`` with a non-volatile ``expr`` is a catalog
change: the value is stored once and read for the existing rows. A volatile default
(``clock_timestamp()``, ``gen_random_uuid()``, ``nextval()``) rewrites the table instead, so
:func:`add_column_online` adds the column without it, sets the default (new rows get it from
then on), fills the existing rows with :func:`~dbtune.migrations.backfill`, and then, when asked,
makes the column NOT NULL with :func:`~dbtune.migrations.set_not_null_online`. Which case
applies is asked of the server (:mod:`.rewrite_probe`), not guessed from the text.

:func:`change_column_type_online` runs only the type changes PostgreSQL makes without a rewrite
(``varchar(n)`` to a larger ``n`` or to ``text``, a larger ``numeric`` precision at the same
scale, ...) and refuses the others, pointing to the expand/contract recipe in
docs/migrations.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from dbtune.catalog import Column, read_indexes, sqlalchemy_runner
from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.backfill import MAX_BATCH_S, MAX_LAG_S, STATEMENT_TIMEOUT, run_backfill
from dbtune.migrations.backfill_job import Backfill
from dbtune.migrations.catalog import ResolvedTable, column
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import retry_alter
from dbtune.migrations.not_null import not_null_check_name, require_column, set_not_null_steps
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.rewrite_probe import column_copy, probe
from dbtune.migrations.tunables import Tunables, tunables
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import check_identifiers
from dbtune.sql.text import SqlTextError, check_expression, check_type_name

EXPAND_CONTRACT = "docs/migrations.md, 'Renames and type changes: expand/contract'"


def _checked_type(type_name: str) -> str:
    try:
        return check_type_name(type_name)
    except SqlTextError as exc:
        raise MigrationError(f"{type_name!r} is not a type name: {exc}") from None


@shown_by_alembic
def add_column_online(
    table_name: str,
    column_name: str,
    type_: str,
    *,
    default: str | None = None,
    not_null: bool = False,
    schema: str | None = None,
    batch_size: int = 1000,
    pause_s: float = 0.0,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
    max_batch_s: float | None = MAX_BATCH_S,
) -> None:
    """Add ``column_name type_ [DEFAULT default] [NOT NULL]`` (see the module docstring).
    The existing rows are filled by :func:`~dbtune.migrations.backfill`'s batches, each at
    most ``max_batch_s`` long.

    ``type_`` and ``default`` are SQL (``"timestamptz"``, ``"clock_timestamp()"``), each
    checked to be one type name and one expression. A NOT NULL column needs a default.
    """
    check_identifiers(table_name, column_name, schema)
    _checked_type(type_)
    if default is not None:
        try:
            check_expression(default)
        except SqlTextError as exc:
            raise MigrationError(f"default {default!r} is not one expression: {exc}") from None
    if not_null and default is None:
        raise MigrationError(
            f"add_column_online({column_name!r}, not_null=True) needs a default: the existing "
            "rows need a value"
        )
    col = ident(column_name).as_string()
    job = Backfill(
        table_name, schema, f"{col} = ({default})", f"{col} IS NULL",
        (), batch_size, pause_s, STATEMENT_TIMEOUT, MAX_LAG_S,
        f"{table_name}.{column_name} default", max_batch_s,
    )  # fmt: skip
    operation = _AddColumn(table_name, schema, column_name, type_, default, not_null, job)
    if not op.get_context().as_sql:
        # In the revision's transaction, before the autocommit block: the probe's savepoint.
        operation = operation.inspected(op.get_bind())
    run_operation(operation, lock_timeout=lock_timeout, lock_retries=lock_retries)


@dataclass(frozen=True, slots=True)
class _AddColumn:
    table_name: str
    schema: str | None
    column_name: str
    type_: str
    default: str | None
    not_null: bool
    job: Backfill  # the backfill of the default, when adding it rewrites
    rewrites: bool = False  # online: would ADD COLUMN with the default rewrite the table?
    missing: bool = True  # online: the column is not there yet

    @property
    def default_sql(self) -> sql.Composable:
        return sql.SQL(" DEFAULT {}").format(sql.SQL(self.default)) if self.default else sql.SQL("")

    def as_sql(self, budget: Tunables) -> None:
        offline.add_column(self.table_name, self.schema, self.column_name,
                           sql.SQL(self.type_), self.default_sql, budget.lock_timeout)  # fmt: skip
        if self.default is not None:
            offline.backfill(self.job)
        if self.not_null:
            name = not_null_check_name(self.table_name, self.column_name)
            offline.set_not_null(
                self.table_name, self.schema, self.column_name, name, budget.lock_timeout
            )

    def inspected(self, conn: sa.Connection) -> _AddColumn:
        """With what the server says: does adding the column rewrite, is it there already
        (with the same type, or the helper refuses)."""
        table = require_table(conn, self.table_name, self.schema)
        change = sql.SQL("ADD COLUMN probe {}{}").format(sql.SQL(self.type_), self.default_sql)
        found = probe(conn, None, change)
        existing = column(conn, table, self.column_name)
        if existing is not None and existing.type_sql != found.type_sql:
            raise MigrationError(
                f"column {ident(self.column_name).as_string()} already exists in "
                f"{table.display} as {existing.type_sql}, not {found.type_sql}; use another "
                "name, or change_column_type_online"
            )
        return replace(self, rewrites=found.rewrites, missing=existing is None)

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        table = require_table(conn, self.table_name, self.schema)
        with session_settings(conn, budget.lock_timeout):
            self._alter(conn, table, budget)
        if self.rewrites:
            run_backfill(conn, self.job, table, budget.lock_timeout)
        if self.not_null and not require_column(conn, table, self.column_name).not_null:
            name = not_null_check_name(self.table_name, self.column_name)
            set_not_null_steps(conn, table, self.column_name, name, budget)

    def _alter(self, conn: sa.Connection, table: ResolvedTable, budget: Tunables) -> None:
        """One catalog change when adding the column with its default rewrites nothing,
        whatever the table's size; else the column, then its default, for the backfill."""
        what = f"add column {self.column_name} to {table.display}"
        col, type_sql = ident(self.column_name), sql.SQL(self.type_)
        if not self.rewrites:
            if self.missing:
                add = sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}{}{}").format(
                    table.identifier, col, type_sql, self.default_sql,
                    sql.SQL(" NOT NULL") if self.not_null else sql.SQL(""),
                )  # fmt: skip
                retry_alter(conn, what, (table.oid,), budget, add)
            return
        if self.missing:
            add = sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                table.identifier, col, type_sql
            )
            retry_alter(conn, what, (table.oid,), budget, add)
        # The default before the backfill: rows inserted meanwhile get it themselves.
        set_default = sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}").format(
            table.identifier, col, sql.SQL(self.default or "NULL")
        )
        retry_alter(conn, f"set the default of {self.column_name}", (table.oid,), budget,
                    set_default)  # fmt: skip


@shown_by_alembic
def change_column_type_online(
    table_name: str,
    column_name: str,
    type_: str,
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """``ALTER COLUMN ... TYPE type_`` when PostgreSQL does it without rewriting the table or
    its indexes (a catalog change under a short lock); refused otherwise."""
    check_identifiers(table_name, column_name, schema)
    _checked_type(type_)
    context = op.get_context()
    budget = tunables(context, lock_timeout, lock_retries)
    if context.as_sql:
        raise MigrationError(
            f"change_column_type_online({table_name!r}, {column_name!r}) cannot run in "
            "offline mode (--sql): whether the change rewrites the table is asked of the "
            "database, and a script has none to ask. Run this revision online"
        )
    conn = op.get_bind()
    table = require_table(conn, table_name, schema)
    current = require_column(conn, table, column_name)
    if not _changes_in_place(conn, table, current, type_):
        return
    alter = sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
        table.identifier, ident(column_name), sql.SQL(type_)
    )
    with context.autocommit_block():
        conn = op.get_bind()
        with session_settings(conn, budget.lock_timeout):
            retry_alter(conn, f"change the type of {column_name} on {table.display}",
                        (table.oid,), budget, alter)  # fmt: skip


def _changes_in_place(
    conn: sa.Connection, table: ResolvedTable, current: Column, type_: str
) -> bool:
    """True when the change is a catalog change only (asked of the server on a copy); False
    when the column has that type already; a :class:`MigrationError` when it would rewrite
    the table or its indexes, or needs a USING expression."""
    indexed = any(
        current.attnum in index.key_attnums + index.include_attnums
        for index in read_indexes(sqlalchemy_runner(conn), tables=[table.oid])
    )
    change = sql.SQL("ALTER COLUMN probe TYPE {}").format(sql.SQL(type_))
    col = ident(current.width.name).as_string()
    try:
        found = probe(conn, column_copy(current), change, indexed=indexed)
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        reason = reason.replace('"probe"', col)
        raise MigrationError(
            f"{table.display}.{col} cannot change from {current.type_sql} to {type_} without "
            f"a USING expression ({reason}), which rewrites the table: use expand/contract "
            f"({EXPAND_CONTRACT})"
        ) from None
    if found.type_sql == current.type_sql:
        return False
    if found.rewrites:
        raise MigrationError(
            f"changing {table.display}.{col} from {current.type_sql} to {found.type_sql} "
            "rewrites the table (or its indexes) under ACCESS EXCLUSIVE: no reads or writes "
            f"until it ends. Use expand/contract instead ({EXPAND_CONTRACT}): a new column, "
            "a dual-write trigger, backfill, switch reads, drop the old column"
        )
    return True
