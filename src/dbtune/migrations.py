"""Online index operations for Alembic revisions: the project's and its users' own.

``CREATE INDEX CONCURRENTLY`` does not block writers, but it has sharp edges that a plain
``op.create_index(..., postgresql_concurrently=True)`` leaves to the user:

* it cannot run in a transaction, so it must sit in Alembic's ``autocommit_block()``;
* a failed or cancelled build leaves an INVALID index, which ``IF NOT EXISTS`` then accepts:
  Alembic reports success over an index the planner never uses;
* it waits for every transaction that writes the table or holds an old snapshot; under a
  long ``lock_timeout`` it queues for minutes, under none it fails at once;
* a session ``statement_timeout`` meant for application queries cancels a long build;
* an index on an unbounded column makes some future INSERT fail (the 2704-byte btree limit).

:func:`create_index_online` handles each: it rebuilds INVALID leftovers, refuses a different
definition under the same name, waits on a short ``lock_timeout`` with retries and backoff and
names the blocking sessions when it gives up (leaving no INVALID index), lifts
``statement_timeout`` for the build only, checks ``indisvalid`` afterwards, and refuses
unbounded columns unless ``allow_wide=True``. In offline mode (``alembic upgrade --sql``) it
emits SQL that psql can apply and re-apply, ending in a check that fails on an INVALID index.

Use it from a revision::

    from dbtune.migrations import create_index_online, drop_index_online

    def upgrade() -> None:
        create_index_online("ix_orders_customer_id_created_at", "orders",
                            ["customer_id", "created_at DESC"], include=["status"])

    def downgrade() -> None:
        drop_index_online("ix_orders_customer_id_created_at", "orders")

Tunables, in order of precedence: the keyword arguments, ``alembic -x lock_timeout=2s -x
lock_retries=3``, the environment (``DBTUNE_LOCK_TIMEOUT``, ``DBTUNE_LOCK_RETRIES``), defaults.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.runtime.migration import MigrationContext

from dbtune.errors import MigrationError, UsageError
from dbtune.index_catalog import Blocker, column_types, describe_index, find_blockers
from dbtune.index_spec import IndexSpec, check_identifier, differences, width_problem

log = logging.getLogger("dbtune.migrations")

DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_LOCK_RETRIES = 5
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
LOCK_NOT_AVAILABLE = "55P03"

_TIMEOUT = re.compile(r"^\d+(\.\d+)?\s*(ms|s|min)?$")


def _setting(context: MigrationContext, key: str, env: str, default: str) -> str:
    opts = getattr(context.config.cmd_opts, "x", None) if context.config else None
    for item in opts or ():
        name, _, value = item.partition("=")
        if str(name).strip() == key:
            return str(value).strip()
    return os.environ.get(env, "").strip() or default


def _timeout_s(value: str) -> float:
    """``"5s"`` -> 5.0, ``"300ms"`` -> 0.3, ``"2min"`` -> 120.0, ``"500"`` -> 0.5 (ms)."""
    if not _TIMEOUT.match(value.strip()):
        raise UsageError(f"lock_timeout {value!r} is not a duration such as 5s or 500ms")
    number = float(re.sub(r"[a-z\s]", "", value))
    unit = re.sub(r"[\d.\s]", "", value) or "ms"
    return number * {"ms": 0.001, "s": 1.0, "min": 60.0}[unit]


def _tunables(
    context: MigrationContext, lock_timeout: str | None, lock_retries: int | None = None
) -> tuple[str, float, int]:
    """(lock_timeout, the same in seconds, retries): arguments, then -x, env, defaults."""
    timeout = lock_timeout or _setting(
        context, "lock_timeout", "DBTUNE_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT
    )
    if lock_retries is None:
        raw = _setting(context, "lock_retries", "DBTUNE_LOCK_RETRIES", str(DEFAULT_LOCK_RETRIES))
        try:
            lock_retries = int(raw)
        except ValueError:
            raise UsageError(f"lock_retries {raw!r} is not an integer") from None
    return timeout, _timeout_s(timeout), lock_retries


def _qualified(conn: sa.Connection, table: str, schema: str | None) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(table)}" if schema else quote(table)


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


@contextmanager
def _session_settings(conn: sa.Connection, lock_timeout: str) -> Iterator[None]:
    """Short lock_timeout, no statement_timeout, for the build only; restore the session's own."""
    saved = conn.execute(
        sa.text("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
    ).one()
    apply = sa.text(
        "SELECT set_config('lock_timeout', :l, false), set_config('statement_timeout', :s, false)"
    )
    conn.execute(apply, {"l": lock_timeout, "s": "0"})
    try:
        yield
    finally:
        conn.execute(apply, {"l": saved[0], "s": saved[1]})


def _index_kwargs(spec: IndexSpec, schema: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "unique": spec.unique,
        "schema": schema,
        "postgresql_concurrently": True,
        "if_not_exists": True,
    }
    if spec.include:
        kwargs["postgresql_include"] = list(spec.include)
    if spec.where:
        kwargs["postgresql_where"] = sa.text(spec.where)
    return kwargs


def _columns(spec: IndexSpec) -> list[str | sa.TextClause]:
    return [sa.text(f"{c} DESC") if desc else c for c, desc in spec.columns]


def _emit_offline(spec: IndexSpec, schema: str | None, lock_timeout: str) -> None:
    """SQL for psql: re-runnable, bounded lock waits, and a final validity check."""
    op.execute(sa.text(f"SET lock_timeout = '{lock_timeout}'"))
    op.execute(sa.text("SET statement_timeout = 0"))
    op.create_index(spec.name, spec.table, _columns(spec), **_index_kwargs(spec, schema))
    schema_sql = f"'{schema}'" if schema else "current_schema()"
    # Offline SQL must carry its names as literals; they are checked identifiers (IndexSpec).
    op.execute(
        sa.text(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i "  # noqa: S608
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relname = '{spec.name}' AND n.nspname = {schema_sql} AND NOT i.indisvalid) "
            f"THEN RAISE EXCEPTION 'index {spec.name} is INVALID (a failed build): run DROP INDEX "
            f"CONCURRENTLY {spec.name}; then apply this script again'; END IF; END $$"
        )
    )
    op.execute(sa.text("RESET lock_timeout"))
    op.execute(sa.text("RESET statement_timeout"))


def _drop_invalid(conn: sa.Connection, spec: IndexSpec, schema: str | None) -> bool:
    """Drop an INVALID leftover; False when that too had to wait past lock_timeout."""
    try:
        op.drop_index(
            spec.name,
            table_name=spec.table,
            schema=schema,
            postgresql_concurrently=True,
            if_exists=True,
        )
    except sa.exc.DBAPIError as exc:
        if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
            raise
        return False
    return True


def _blocked_message(
    spec: IndexSpec,
    blockers: list[Blocker],
    attempts: int,
    waited_s: float,
    lock_timeout: str,
    leftover: bool,
) -> str:
    listed = "; ".join(b.describe() for b in blockers[:5]) or "no session found any more"
    pids = ", ".join(str(b.pid) for b in blockers[:5])
    fix = (
        f"end those transactions (or SELECT pg_terminate_backend(pid) for pid {pids}), "
        if pids
        else ""
    )
    state = (
        f"An INVALID index {spec.name} is left; the next `alembic upgrade head` drops and "
        "rebuilds it."
        if leftover
        else "No INVALID index was left behind."
    )
    return (
        f"could not build index {spec.name} on {spec.table}: other transactions held it up "
        f"for {attempts} attempt(s) over {waited_s:.1f} s (lock_timeout {lock_timeout}). "
        f"Blocking: {listed}. Fix: {fix}then run `alembic upgrade head` again, or raise the "
        f"budget with -x lock_timeout=... -x lock_retries=.... {state}"
    )


def create_index_online(
    index_name: str,
    table_name: str,
    columns: Sequence[str],
    *,
    include: Sequence[str] = (),
    where: str | None = None,
    unique: bool = False,
    schema: str | None = None,
    allow_wide: bool = False,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """Build an index with ``CREATE INDEX CONCURRENTLY``, safely (see the module docstring).

    ``columns`` are names or ``"name DESC"``; ``where`` makes a partial index.
    """
    spec = IndexSpec.build(
        index_name, table_name, columns, include=include, where=where, unique=unique
    )
    context = op.get_context()
    timeout, timeout_s, retries = _tunables(context, lock_timeout, lock_retries)

    with context.autocommit_block():
        if context.as_sql:
            _emit_offline(spec, schema, timeout)
            return
        conn = op.get_bind()
        table = _qualified(conn, table_name, schema)
        if not allow_wide:
            problem = width_problem(spec, column_types(conn, table))
            if problem:
                raise MigrationError(problem)
        existing = describe_index(conn, index_name, schema)
        if existing is not None and existing.valid:
            diff = differences(spec, existing)
            if not diff:
                log.info("index %s exists, valid, same definition: nothing to do", index_name)
                return
            raise MigrationError(
                f"index {index_name} exists with a different definition ({', '.join(diff)}).\n"
                f"  existing: {existing.definition}\n  wanted:   {spec.sql()}\n"
                f"Drop it (DROP INDEX CONCURRENTLY {index_name};) or give the new one "
                "another name"
            )
        with _session_settings(conn, timeout):
            _build_with_retries(
                conn,
                spec,
                schema,
                table,
                timeout,
                timeout_s,
                retries,
                leftover=existing is not None,
            )
        final = describe_index(conn, index_name, schema)
        if final is None or not final.valid:
            raise MigrationError(
                f"index {index_name} on {table_name} is not valid after CREATE INDEX "
                f"CONCURRENTLY; run `DROP INDEX CONCURRENTLY {index_name};` and "
                "`alembic upgrade head` again"
            )


def _build_with_retries(
    conn: sa.Connection,
    spec: IndexSpec,
    schema: str | None,
    table: str,
    timeout: str,
    timeout_s: float,
    retries: int,
    *,
    leftover: bool,
) -> None:
    started = time.monotonic()
    blockers: list[Blocker] = []
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1)))
        if leftover:
            log.warning("index %s is INVALID (a failed build): dropping it to rebuild", spec.name)
            leftover = not _drop_invalid(conn, spec, schema)
            if leftover:
                blockers = find_blockers(conn, table)
                continue
        # Don't start a build that would only time out mid-way and leave an INVALID index:
        # wait while a transaction older than lock_timeout still holds the table.
        blockers = find_blockers(conn, table, min_age_s=timeout_s)
        if blockers:
            log.warning("index %s: waiting for %s", spec.name, blockers[0].describe())
            continue
        try:
            op.create_index(spec.name, spec.table, _columns(spec), **_index_kwargs(spec, schema))
            return
        except sa.exc.DBAPIError as exc:
            if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                raise _build_failed(conn, spec, schema, exc) from None
            blockers = find_blockers(conn, table)
            log.warning(
                "index %s: lock_timeout %s reached (attempt %d)", spec.name, timeout, attempt + 1
            )
            leftover = describe_index(conn, spec.name, schema) is not None
            if leftover:
                leftover = not _drop_invalid(conn, spec, schema)
    raise MigrationError(
        _blocked_message(spec, blockers, retries + 1, time.monotonic() - started, timeout, leftover)
    )


def _build_failed(
    conn: sa.Connection, spec: IndexSpec, schema: str | None, exc: sa.exc.DBAPIError
) -> MigrationError:
    """The build itself failed (data, not locks): clean up its INVALID leftover and say why."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    leftover = describe_index(conn, spec.name, schema) is not None
    if leftover:
        leftover = not _drop_invalid(conn, spec, schema)
    state = (
        f"An INVALID index {spec.name} is left: DROP INDEX CONCURRENTLY {spec.name};"
        if leftover
        else "No INVALID index was left behind."
    )
    return MigrationError(f"building index {spec.name} on {spec.table} failed: {reason}. {state}")


def drop_index_online(
    index_name: str,
    table_name: str,
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
) -> None:
    """``DROP INDEX CONCURRENTLY IF EXISTS`` under a short lock_timeout: writers never wait."""
    context = op.get_context()
    timeout, _, _ = _tunables(context, lock_timeout, 0)
    with context.autocommit_block():
        if context.as_sql:
            op.execute(sa.text(f"SET lock_timeout = '{timeout}'"))
            op.drop_index(
                index_name,
                table_name=table_name,
                schema=schema,
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.execute(sa.text("RESET lock_timeout"))
            return
        with _session_settings(op.get_bind(), timeout):
            op.drop_index(
                index_name,
                table_name=table_name,
                schema=schema,
                postgresql_concurrently=True,
                if_exists=True,
            )


_CHECK_STATE = sa.text(
    "SELECT convalidated FROM pg_constraint "
    "WHERE conrelid = CAST(:table AS regclass) AND conname = :name"
)


def add_checks_online(
    table_name: str,
    checks: Mapping[str, str],
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """Add CHECK constraints (name -> condition) without blocking writers for a table scan.

    ``ADD CONSTRAINT ... NOT VALID`` needs an ACCESS EXCLUSIVE lock only for a catalog change
    (under a short ``lock_timeout``, retried with backoff); ``VALIDATE CONSTRAINT`` then scans
    the table under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on. All the ADDs
    run first, each committed on its own; the validations then run in the revision's own
    transaction, so a failed validation rolls back with the revision and a re-run retries it.
    """
    context = op.get_context()
    timeout, _, retries = _tunables(context, lock_timeout, lock_retries)
    for identifier in (table_name, schema, *checks):
        if identifier is not None:
            check_identifier(identifier)
    with context.autocommit_block():
        if context.as_sql:
            target = f"{schema}.{table_name}" if schema else table_name
            op.execute(sa.text(f"SET lock_timeout = '{timeout}'"))
            for name, condition in checks.items():
                # Re-runnable without dropping the guarantee: add only when it is missing.
                op.execute(
                    sa.text(
                        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint "  # noqa: S608
                        "WHERE conrelid = "
                        f"'{target}'::regclass AND conname = '{name}') THEN "
                        f"ALTER TABLE {target} ADD CONSTRAINT {name} CHECK ({condition}) "
                        "NOT VALID; END IF; END $$"
                    )
                )
            op.execute(sa.text("RESET lock_timeout"))
        else:
            conn = op.get_bind()
            target = _qualified(conn, table_name, schema)
            quote = conn.dialect.identifier_preparer.quote
            with _session_settings(conn, timeout):
                for name, condition in checks.items():
                    state = conn.execute(_CHECK_STATE, {"table": target, "name": name}).first()
                    if state is None:
                        _retry_on_lock_timeout(
                            conn,
                            target,
                            retries,
                            f"add constraint {name}",
                            sa.text(
                                f"ALTER TABLE {target} ADD CONSTRAINT {quote(name)} "
                                f"CHECK ({condition}) NOT VALID"
                            ),
                        )
    if context.as_sql:
        op.execute(sa.text(f"SET LOCAL lock_timeout = '{timeout}'"))
        op.execute(sa.text("SET LOCAL statement_timeout = 0"))
    else:
        op.get_bind().execute(
            sa.text(
                "SELECT set_config('lock_timeout', :l, true), "
                "set_config('statement_timeout', '0', true)"
            ),
            {"l": timeout},
        )
    for name in checks:
        op.execute(sa.text(f"ALTER TABLE {target} VALIDATE CONSTRAINT {name}"))


def _retry_on_lock_timeout(
    conn: sa.Connection, table: str, retries: int, what: str, statement: sa.TextClause
) -> None:
    started = time.monotonic()
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1)))
        try:
            conn.execute(statement)
            return
        except sa.exc.DBAPIError as exc:
            if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                raise
            blockers = find_blockers(conn, table)
    listed = "; ".join(b.describe() for b in blockers[:5]) or "no session found any more"
    raise MigrationError(
        f"could not {what} on {table}: other transactions held the table for {retries + 1} "
        f"attempt(s) over {time.monotonic() - started:.1f} s. Blocking: {listed}. End them, "
        "then run `alembic upgrade head` again"
    )


def drop_checks_online(
    table_name: str,
    names: Sequence[str],
    *,
    schema: str | None = None,
    lock_timeout: str | None = None,
) -> None:
    """``ALTER TABLE ... DROP CONSTRAINT IF EXISTS`` for each name, under a short lock_timeout."""
    context = op.get_context()
    timeout, _, _ = _tunables(context, lock_timeout, 0)
    target = f"{schema}.{table_name}" if schema else table_name
    op.execute(sa.text(f"SET LOCAL lock_timeout = '{timeout}'"))
    for name in names:
        op.execute(sa.text(f"ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {name}"))
