"""Online index operations: ``CREATE``/``DROP INDEX CONCURRENTLY`` with their sharp edges filed.

``CREATE INDEX CONCURRENTLY`` does not block writers, but:

* it cannot run in a transaction, so it sits in Alembic's ``autocommit_block()``;
* a failed or cancelled build leaves an INVALID index, which ``IF NOT EXISTS`` then accepts;
* it waits for every transaction that writes the table or holds an old snapshot;
* a session ``statement_timeout`` meant for application queries cancels a long build;
* an index on an unbounded column makes some future INSERT fail (the 2704-byte btree limit).

:func:`create_index_online` handles each: it resolves the table through the catalog (so the
index is looked for where it will be built, whatever the search_path), rebuilds INVALID
leftovers, compares an existing index structurally (attnums, directions, INCLUDE, operator
classes, predicate) and refuses a different one, retries short lock waits through
:class:`~dbtune.migrations.lock_retry.LockRetry`, lifts ``statement_timeout`` for the build
only, checks ``indisvalid`` afterwards, and refuses unbounded columns unless ``allow_wide`` —
except the keys of a unique index, which it builds and warns about (the widest value today
and the ``CHECK`` that would bound it).
:func:`drop_index_online` goes through the same retry; a drop cut short leaves at worst an
INVALID index that the next run of the same command drops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.catalog import ResolvedTable, column_types, describe_index, resolve_table
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import LockRetry, is_lock_timeout
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.statements import execute, text
from dbtune.migrations.tunables import Tunables
from dbtune.sql.identifiers import fit_name, ident
from dbtune.sql.index_spec import (
    ALIGNMENT_SLACK_BYTES,
    BTREE_MAX_ENTRY_BYTES,
    INDEX_TUPLE_HEADER_BYTES,
    VARLENA_HEADER_BYTES,
    ColumnType,
    IndexKey,
    IndexSpec,
    check_identifier,
    differences,
    max_width,
    width_problem,
)

log = logging.getLogger("dbtune.migrations")


def drop_statement(name: str, schema: str) -> sql.Composed:
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident(schema, name))


@shown_by_alembic
def create_index_online(
    index_name: str,
    table_name: str,
    columns: Sequence[str | IndexKey],
    *,
    include: Sequence[str] = (),
    where: str | None = None,
    unique: bool = False,
    method: str = "btree",
    schema: str | None = None,
    allow_wide: bool = False,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """Build an index with ``CREATE INDEX CONCURRENTLY``, safely (see the module docstring).

    ``columns`` are column names exactly as the catalog spells them, each optionally followed
    by `` DESC``, or :class:`IndexKey` for an expression, a collation, an operator class or a
    NULLS order; ``where`` (SQL) makes a partial index; ``method`` another access method.
    """
    spec = IndexSpec.build(
        index_name, table_name, columns, include=include, where=where, unique=unique, method=method
    )
    run_operation(
        CreateIndex(spec, table_name, schema, allow_wide),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CreateIndex:
    """The index of ``spec`` on a table named as the caller named it (the unique helper's
    operation is this one, with the constraint attached afterwards)."""

    spec: IndexSpec
    table_name: str
    schema: str | None
    allow_wide: bool

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        table = require_table(conn, self.table_name, self.schema)
        build_index(conn, self.spec, table, budget, self.allow_wide)

    def as_sql(self, budget: Tunables) -> None:
        offline.create_index(self.spec, self.schema, budget.lock_timeout)


def _unbounded_unique_keys(spec: IndexSpec, columns: Mapping[str, ColumnType]) -> list[str]:
    """Key columns of a unique index with no width bound: a unique email or code stored as
    ``text`` is what most applications have, and PostgreSQL builds it."""
    if not spec.unique:
        return []
    return [c for c, _ in spec.columns if c in columns and max_width(columns[c]) is None]


def _warn_unbounded_unique(
    conn: sa.Connection, spec: IndexSpec, table: ResolvedTable, columns: Mapping[str, ColumnType],
    unbounded: Sequence[str],
) -> None:  # fmt: skip
    """Say how wide each unbounded key is today and the CHECK that would bound it."""
    bounded = [max_width(columns[c]) or 0 for c, _ in spec.columns if c not in unbounded]
    room = BTREE_MAX_ENTRY_BYTES - INDEX_TUPLE_HEADER_BYTES
    room -= sum(w + ALIGNMENT_SLACK_BYTES for w in bounded)
    limit = max(1, room // len(unbounded) - ALIGNMENT_SLACK_BYTES - VARLENA_HEADER_BYTES)
    widest = conn.execute(
        text(
            sql.SQL("SELECT /* dbtune */ {} FROM {}").format(
                sql.SQL(", ").join(
                    sql.SQL("max(octet_length({}))").format(sql.Identifier(c)) for c in unbounded
                ),
                table.identifier,
            )
        )
    ).one()
    for column, bytes_ in zip(unbounded, widest, strict=True):
        check = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (octet_length({}) <= {})").format(
            table.identifier,
            ident(fit_name(f"ck_{table.name}_{column}_length")),
            ident(column),
            sql.Literal(limit),
        )
        log.warning(
            "unique index %s: key column %s (%s) has no width bound; its widest value today is "
            "%s bytes, and one over about %s bytes would make its INSERT fail (btree entries "
            "stop at %s bytes). To bound it: %s NOT VALID, then VALIDATE CONSTRAINT",
            spec.name, column, columns[column].type_name,
            "no" if bytes_ is None else f"{bytes_:,}", f"{limit:,}", BTREE_MAX_ENTRY_BYTES,
            check.as_string(),
        )  # fmt: skip


def _refuse_unknown_or_wide(
    conn: sa.Connection, spec: IndexSpec, table: ResolvedTable, columns: Mapping[str, ColumnType],
    allow_wide: bool,
) -> None:  # fmt: skip
    missing = [k.column for k in spec.keys if k.column and k.column not in columns] + [
        c for c in spec.include if c not in columns
    ]
    if missing:
        raise MigrationError(
            f"index {spec.name}: column(s) {', '.join(missing)} not in {table.display}; "
            "columns are matched exactly (case-sensitive); an expression is a "
            "Key(expression=...)"
        )
    if allow_wide or spec.method != "btree":
        return
    expressions = [k.expression for k in spec.keys if k.expression]
    if expressions:
        raise MigrationError(
            f"index {spec.name}: the width of the expression key(s) {', '.join(expressions)} "
            "cannot be bounded from the catalog; pass allow_wide=True if every value stays "
            f"well under {BTREE_MAX_ENTRY_BYTES} bytes"
        )
    unbounded = _unbounded_unique_keys(spec, columns)
    keys = tuple(k for k in spec.keys if k.column not in unbounded)
    problem = width_problem(replace(spec, keys=keys), columns)
    if problem:
        raise MigrationError(problem)
    if unbounded:
        _warn_unbounded_unique(conn, spec, table, columns, unbounded)


def _already_there(conn: sa.Connection, spec: IndexSpec, table: ResolvedTable) -> bool:
    """True when a valid index of the same definition exists; refuses a different one."""
    existing = describe_index(conn, spec.name, table)
    if existing is None or not existing.valid:
        return False
    diff = differences(spec, existing)
    if not diff:
        log.info("index %s exists, valid, same definition: nothing to do", spec.name)
        return True
    raise MigrationError(
        f"index {spec.name} exists with a different definition ({', '.join(diff)}).\n"
        f"  existing: {existing.definition}\n  wanted:   {spec.sql(table.schema)}\n"
        f"Drop it ({drop_statement(spec.name, table.schema).as_string()};) or give the "
        "new one another name"
    )


def build_index(
    conn: sa.Connection, spec: IndexSpec, table: ResolvedTable, budget: Tunables, allow_wide: bool
) -> None:
    _refuse_unknown_or_wide(conn, spec, table, column_types(conn, table), allow_wide)
    if _already_there(conn, spec, table):
        return
    retry = LockRetry(conn, f"build index {spec.name} on {table.display}", (table.oid,), budget)
    create = spec.statement(table.schema, concurrently=True, if_not_exists=True)

    def drop_leftover() -> None:
        leftover = describe_index(conn, spec.name, table)
        if leftover is not None and not leftover.valid:
            log.warning("index %s is INVALID (a failed build): dropping it", spec.name)
            execute(drop_statement(spec.name, table.schema))

    def attempt() -> None:
        drop_leftover()
        try:
            execute(create)
        except sa.exc.DBAPIError as exc:
            if is_lock_timeout(exc):
                raise
            raise _build_failed(conn, spec, table, exc) from None

    with session_settings(conn, budget.lock_timeout):
        try:
            retry.run(attempt, after_timeout=lambda: _quietly(drop_leftover))
        except _BuildFailed:
            raise  # already says what is left
        except MigrationError as exc:
            left = describe_index(conn, spec.name, table)
            state = (
                f" An INVALID index {spec.name} is left; the next `alembic upgrade` drops and "
                "rebuilds it."
                if left is not None and not left.valid
                else " No INVALID index was left behind."
            )
            raise MigrationError(exc.message + state) from None
    final = describe_index(conn, spec.name, table)
    if final is None or not final.valid:
        raise MigrationError(
            f"index {spec.name} on {table.display} is not valid after CREATE INDEX "
            f"CONCURRENTLY; run `{drop_statement(spec.name, table.schema).as_string()};` and "
            "`alembic upgrade head` again"
        )


def _quietly(step: Callable[[], None]) -> None:
    """Run a clean-up step whose own lock wait must not hide the original timeout."""
    try:
        step()
    except sa.exc.DBAPIError as exc:
        if not is_lock_timeout(exc):
            raise


class _BuildFailed(MigrationError):
    """The build itself failed (data, not locks); the message says what was cleaned up."""


def _build_failed(
    conn: sa.Connection, spec: IndexSpec, table: ResolvedTable, exc: sa.exc.DBAPIError
) -> MigrationError:
    """The build itself failed (data, not locks): clean up its INVALID leftover and say why."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    detail = getattr(getattr(exc.orig, "diag", None), "message_detail", None)
    if detail:  # a unique build names the duplicated key: "Key (email)=(a@b.c) is duplicated."
        reason = f"{reason} ({detail.rstrip('.')})"
    drop = drop_statement(spec.name, table.schema)
    try:
        if describe_index(conn, spec.name, table) is not None:
            execute(drop)
        state = "No INVALID index was left behind."
    except sa.exc.DBAPIError:
        state = f"An INVALID index {spec.name} is left: {drop.as_string()};"
    return _BuildFailed(f"building index {spec.name} on {table.display} failed: {reason}. {state}")


@shown_by_alembic
def drop_index_online(
    index_name: str,
    table_name: str,
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """``DROP INDEX CONCURRENTLY IF EXISTS`` under a short lock_timeout, retried with backoff.

    Writers never wait behind it. A drop cut short can leave the index INVALID (it is marked
    so before it is removed); running the same downgrade again drops it.
    """
    check_identifier(index_name)
    check_identifier(table_name)
    run_operation(
        _DropIndex(index_name, table_name, schema),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _DropIndex:
    index_name: str
    table_name: str
    schema: str | None

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        _drop(conn, self.index_name, self.table_name, self.schema, budget)

    def as_sql(self, budget: Tunables) -> None:
        offline.drop_index(self.index_name, self.schema, budget.lock_timeout)


def _drop(
    conn: sa.Connection, index_name: str, table_name: str, schema: str | None, budget: Tunables
) -> None:
    table = resolve_table(conn, table_name, schema)
    if table is None:
        log.info("table %s does not exist: index %s is gone with it", table_name, index_name)
        return
    if describe_index(conn, index_name, table) is None:
        log.info("index %s does not exist: nothing to drop", index_name)
        return
    # Every session that holds the table, readers too: DROP INDEX CONCURRENTLY waits for each
    # transaction that has it open, so a reader in a long transaction is the blocker to name.
    retry = LockRetry(conn, f"drop index {index_name} on {table.display}", (table.oid,), budget,
                      every_lock=True)  # fmt: skip
    with session_settings(conn, budget.lock_timeout):
        try:
            retry.run(lambda: execute(drop_statement(index_name, table.schema)))
        except MigrationError as exc:
            left = describe_index(conn, index_name, table)
            state = (
                f" Index {index_name} is INVALID now (never read, still written)."
                if left is not None and not left.valid
                else f" Index {index_name} is unchanged."
            )
            raise MigrationError(exc.message + state + _rerun(conn)) from None


def _rerun(conn: sa.Connection) -> str:
    """What a second run of the same command does: a revision's steps before the failed one
    are done, and alembic_version still names the revision."""
    try:
        current = op.get_context().get_current_revision()
    except sa.exc.SQLAlchemyError:  # pragma: no cover - the connection is gone
        current = None
    named = f"alembic_version still names {current}: " if current else ""
    return (
        f" {named}running the same alembic command again once the blocker is gone finishes "
        "this revision (what it already dropped is skipped, an INVALID leftover is dropped) "
        "and ends at the revision it was going to."
    )
