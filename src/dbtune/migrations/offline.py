"""Offline SQL (``alembic upgrade --sql``): what a DBA applies with psql, re-runnable.

Offline there is no catalog to ask, so the SQL carries its own guards: ``IF [NOT] EXISTS``, a
bounded ``lock_timeout``, and after each build a ``DO`` block that stops the script on an
INVALID index. Names inside those blocks are string literals built with ``psycopg.sql.Literal``
(quotes doubled, backslashes escaped), and every identifier is an ``Identifier``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations.statements import (
    drop_constraint,
    execute,
    set_lock_timeout,
    validate_constraint,
)
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import IndexSpec

if TYPE_CHECKING:
    from dbtune.migrations.backfill_job import Backfill


def do_block(body: sql.Composable) -> sql.Composed:
    """``DO $tag$ body $tag$`` with a dollar-quote tag the body does not contain (a name may
    hold ``$$``)."""
    text = body.as_string()
    tag = "$dbtune$"
    while tag in text:
        tag = tag[:-1] + "_$"
    return sql.SQL("DO {tag} {body} {tag}").format(tag=sql.SQL(tag), body=sql.SQL(text))


def _regclass_text(schema: str | None, name: str) -> sql.Composable:
    """The literal ``'"schema"."name"'`` for ``::regclass`` / ``to_regclass``."""
    return sql.Literal(ident(*([schema] if schema else []), name).as_string())


def create_index(spec: IndexSpec, schema: str | None, lock_timeout: str) -> None:
    execute(set_lock_timeout(lock_timeout))
    execute("SET statement_timeout = 0")
    execute(spec.statement(schema, concurrently=True, if_not_exists=True))
    index = _regclass_text(schema, spec.name)
    drop = sql.SQL("DROP INDEX CONCURRENTLY {}").format(
        ident(*([schema] if schema else []), spec.name)
    )
    message = sql.Literal(
        f"index {spec.name} is INVALID (a failed build): run {drop.as_string()}; then apply "
        "this script again"
    )
    execute(
        do_block(
            sql.SQL(
                "BEGIN IF EXISTS (SELECT 1 FROM pg_index "
                "WHERE indexrelid = to_regclass({}) AND NOT indisvalid) "
                "THEN RAISE EXCEPTION USING MESSAGE = {}; END IF; END"
            ).format(index, message)
        )
    )
    execute("RESET lock_timeout")
    execute("RESET statement_timeout")


def drop_index(name: str, schema: str | None, lock_timeout: str) -> None:
    execute(set_lock_timeout(lock_timeout))
    execute(
        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
            ident(*([schema] if schema else []), name)
        )
    )
    execute("RESET lock_timeout")


def add_checks(
    table: str, schema: str | None, checks: Mapping[str, str], lock_timeout: str
) -> None:
    """Each CHECK added NOT VALID only when missing: re-running keeps the guarantee."""
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    for name, condition in checks.items():
        execute(
            do_block(
                sql.SQL(
                    "BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint "
                    "WHERE conrelid = {}::regclass AND conname = {}) THEN "
                    "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID; END IF; END"
                ).format(
                    _regclass_text(schema, table),
                    sql.Literal(name),
                    target,
                    ident(name),
                    sql.SQL(condition),
                )
            )
        )
    execute("RESET lock_timeout")


def validate_checks(
    table: str, schema: str | None, names: Sequence[str], lock_timeout: str
) -> None:
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout, local=True))
    execute("SET LOCAL statement_timeout = 0")
    for name in names:
        execute(validate_constraint(target, name))


def drop_checks(table: str, schema: str | None, names: Sequence[str], lock_timeout: str) -> None:
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    for name in names:
        execute(drop_constraint(target, name))
    execute("RESET lock_timeout")


def guarded(condition: sql.Composable, statement: sql.Composable) -> sql.Composed:
    """``DO``: run ``statement`` only when ``condition`` holds, so the script re-runs cleanly."""
    return do_block(sql.SQL("BEGIN IF {} THEN {}; END IF; END").format(condition, statement))


def _constraint_exists(
    schema: str | None, table: str, name: str, *, validated: bool | None = None
) -> sql.Composed:
    state = {None: "", True: " AND convalidated", False: " AND NOT convalidated"}[validated]
    return sql.SQL(
        "EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {}::regclass AND conname = {}{})"
    ).format(_regclass_text(schema, table), sql.Literal(name), sql.SQL(state))


def _not_null(schema: str | None, table: str, column: str) -> sql.Composed:
    return sql.SQL(
        "(SELECT attnotnull FROM pg_attribute WHERE attrelid = {}::regclass AND attname = {})"
    ).format(_regclass_text(schema, table), sql.Literal(column))


def set_not_null(table: str, schema: str | None, column: str, name: str, lock_timeout: str) -> None:
    """The four steps, each guarded by the catalog: re-running the script finishes the job."""
    target = ident(*([schema] if schema else []), table)
    check, col = ident(name), ident(column)
    execute(set_lock_timeout(lock_timeout))
    execute("SET statement_timeout = 0")
    missing = sql.SQL("NOT {} AND NOT {}").format(
        _not_null(schema, table, column), _constraint_exists(schema, table, name)
    )
    add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID")
    execute(guarded(missing, add.format(target, check, col)))
    execute(
        guarded(
            _constraint_exists(schema, table, name, validated=False),
            validate_constraint(target, name),
        )
    )
    execute(
        guarded(
            sql.SQL("NOT {}").format(_not_null(schema, table, column)),
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(target, col),
        )
    )
    # The check goes only once NOT NULL holds: it guarantees nothing NOT NULL does not.
    execute(
        guarded(
            sql.SQL("{} AND {}").format(
                _not_null(schema, table, column), _constraint_exists(schema, table, name)
            ),
            drop_constraint(target, name, if_exists=False),
        )
    )
    execute("RESET lock_timeout")
    execute("RESET statement_timeout")


def add_foreign_key(
    add: sql.Composable, table: str, schema: str | None, name: str, lock_timeout: str
) -> None:
    """ADD ... NOT VALID when missing, then VALIDATE (a no-op once validated)."""
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    execute("SET statement_timeout = 0")
    missing = sql.SQL("NOT {}").format(_constraint_exists(schema, table, name))
    execute(guarded(missing, add))
    execute(
        guarded(
            _constraint_exists(schema, table, name, validated=False),
            validate_constraint(target, name),
        )
    )
    execute("RESET lock_timeout")
    execute("RESET statement_timeout")


def add_unique(spec: IndexSpec, schema: str | None, lock_timeout: str) -> None:
    """The concurrent unique build (stopping on an INVALID index), then the constraint."""
    create_index(spec, schema, lock_timeout)
    target = ident(*([schema] if schema else []), spec.table)
    execute(set_lock_timeout(lock_timeout))
    missing = sql.SQL("NOT {}").format(_constraint_exists(schema, spec.table, spec.name))
    attach = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
        target, ident(spec.name), ident(spec.name)
    )
    execute(guarded(missing, attach))
    execute("RESET lock_timeout")


def _refuse_offline(job: Backfill) -> None:
    if not job.where:
        raise MigrationError(
            f"backfill of {job.table} in offline mode (--sql) needs where=...: the SQL "
            "script keeps no progress, so only a filter that done rows no longer match makes "
            "it safe to run again. Add one, or run this revision online"
        )
    if len(job.key) > 1:
        raise MigrationError(
            f"backfill of {job.table} in offline mode (--sql) walks one key column; "
            f"key={list(job.key)} has {len(job.key)}. Run this revision online"
        )


def _dynamic(shape: str, fixed: Mapping[str, str]) -> sql.Composable:
    """A statement as a PL/pgSQL string expression: fixed text as literals, ``{k}`` the quoted
    key column and ``{t}`` its type, found when the script runs. (No format() and no %:
    Alembic doubles % in offline SQL under a ``pyformat`` paramstyle.)"""
    parts: list[sql.Composable] = []
    for piece in re.split(r"(\{\w+\})", shape):
        name = piece[1:-1] if piece.startswith("{") else None
        if name in ("k", "t"):
            parts.append(sql.SQL("quote_ident(k)" if name == "k" else "t"))
        elif name is not None:
            parts.append(sql.Literal(fixed[name]))
        elif piece:
            parts.append(sql.Literal(piece))
    return sql.SQL(" || ").join(parts)


def _find_key(job: Backfill) -> sql.Composable:
    """The walk's key column and type, looked up when the script runs."""
    if job.key:
        return sql.SQL(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO k, t "
            "FROM pg_attribute a WHERE a.attrelid = {rel}::regclass AND a.attname = {key}"
        ).format(rel=_regclass_text(job.schema, job.table), key=sql.Literal(job.key[0]))
    return sql.SQL(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO k, t "
        "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = {rel}::regclass AND i.indisprimary AND i.indnkeyatts = 1"
    ).format(rel=_regclass_text(job.schema, job.table))


def backfill(job: Backfill) -> None:
    """A ``DO`` loop that commits every batch (PostgreSQL 11+, run outside a transaction, as
    psql does). The key is looked up when the script runs (a one-column primary key or the
    one column in ``key``); ``where`` is required, because it is what lets a re-run skip the
    rows an interrupted run already did."""
    _refuse_offline(job)
    target = ident(*([job.schema] if job.schema else []), job.table).as_string()
    fixed = {
        "table": target,
        "assignments": job.assignments,
        "where": f" AND ({job.where})",
        "batch": str(int(job.batch_size)),
    }
    missing = sql.Literal(f"backfill of {target}: no one-column primary key to walk")
    body = sql.SQL(
        "DECLARE k name; t text; lo text; hi text; "
        "BEGIN {find_key}; "
        "IF k IS NULL THEN RAISE EXCEPTION USING MESSAGE = {missing}; END IF; "
        "EXECUTE {first} INTO lo; "
        "WHILE lo IS NOT NULL LOOP "
        "hi := NULL; "
        "EXECUTE {next} INTO hi USING lo; "
        "IF hi IS NULL THEN EXECUTE {last} USING lo; "
        "ELSE EXECUTE {middle} USING lo, hi; END IF; "
        "COMMIT; lo := hi; PERFORM pg_sleep({pause}); "
        "END LOOP; END"
    ).format(
        find_key=_find_key(job),
        missing=missing,
        first=_dynamic("SELECT {k}::text FROM {table} ORDER BY {k} LIMIT 1", fixed),
        next=_dynamic(
            "SELECT {k}::text FROM {table} WHERE {k} >= $1::{t} ORDER BY {k} OFFSET {batch} "
            "LIMIT 1", fixed,
        ),
        last=_dynamic("UPDATE {table} SET {assignments} WHERE {k} >= $1::{t}{where}", fixed),
        middle=_dynamic(
            "UPDATE {table} SET {assignments} WHERE {k} >= $1::{t} AND {k} < $2::{t}{where}",
            fixed,
        ),
        pause=sql.Literal(float(job.pause_s)),
    )  # fmt: skip
    execute(sql.SQL("SET statement_timeout = 0"))
    execute(do_block(body))
    execute("RESET statement_timeout")


def add_column(
    table: str,
    schema: str | None,
    column: str,
    type_sql: sql.Composable,
    default_sql: sql.Composable,
    lock_timeout: str,
) -> None:
    """Offline, whether a default is volatile cannot be asked, so every default takes the
    path that is safe for both: add the column without it, set it, then backfill."""
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    execute("SET statement_timeout = 0")
    add = sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}")
    execute(add.format(target, ident(column), type_sql))
    if default_sql.as_string():
        no_default = sql.SQL(
            "NOT (SELECT atthasdef FROM pg_attribute WHERE attrelid = {}::regclass "
            "AND attname = {})"
        ).format(_regclass_text(schema, table), sql.Literal(column))
        alter = sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET{}")
        execute(guarded(no_default, alter.format(target, ident(column), default_sql)))
    execute("RESET lock_timeout")
    execute("RESET statement_timeout")
