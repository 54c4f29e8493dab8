"""Run each hot query under EXPLAIN in a transaction that is always rolled back.

EXPLAIN ANALYZE executes the statement, so a read runs in a ``READ ONLY`` transaction and a
write (INSERT/UPDATE/DELETE/MERGE) is only planned unless ``allow_writes`` — and then still
rolled back. Every statement has a ``statement_timeout``, so a regression that turns a 1 ms
query into a ten-minute scan fails the run instead of hanging CI.

Two modes: *will-use* plans with the server's settings (does the planner choose the index at
this data volume?); *can-use* switches off sequential scans, bitmap scans and explicit sorts
(``enable_* = off``), which proves on a small CI database that the index *can* serve the query
at all. The generic plan, which prepared statements switch to after five executions, comes from
``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+ and from ``PREPARE`` under
``plan_cache_mode = force_generic_plan`` before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import psycopg
from psycopg import sql

from dbtune.checks import CheckContext, CheckResult, run_checks
from dbtune.db import connect, connection_error_text
from dbtune.dsn import describe
from dbtune.errors import ConnectionFailed, UsageError
from dbtune.explain.plan import Plan, parse_plan
from dbtune.workload import HotQuery, ParamPicker, Workload

STATEMENT_TIMEOUT_MS = 30_000
WILL_USE, CAN_USE = "will-use", "can-use"
CAN_USE_SETTINGS = ("enable_seqscan", "enable_bitmapscan", "enable_sort")
GENERIC_PLAN_OPTION_VERSION = 160_000

Connection = psycopg.Connection[tuple[Any, ...]]

_NAMED = re.compile(r"%\((\w+)\)s|%%")
_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_statement_names = count(1)


@dataclass(frozen=True, slots=True)
class QueryResult:
    query: HotQuery
    profile: str
    params: Mapping[str, Any]
    plan: Plan
    checks: tuple[CheckResult, ...]
    generic: Plan | None = None
    analyzed: bool = True

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True, slots=True)
class ExplainReport:
    target: str
    workload: str
    analyze: bool
    mode: str = WILL_USE
    server_version: int = 0
    results: tuple[QueryResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def is_write(statement: str) -> bool:
    """True for INSERT/UPDATE/DELETE/MERGE, also inside a WITH."""
    text = _COMMENTS.sub(" ", statement).strip()
    first = text.split(None, 1)[0].upper() if text else ""
    if first in {"INSERT", "UPDATE", "DELETE", "MERGE"}:
        return True
    return first == "WITH" and bool(_WRITE.search(text))


def positional(statement: str) -> tuple[str, list[str]]:
    """``%(name)s`` placeholders -> ``$1, $2, ...`` (and ``%%`` -> ``%``), for PREPARE."""
    order: list[str] = []

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAMED.sub(swap, statement), order


class _Pickers:
    """Runs each picker query once per run: profiles and queries share the same pickers."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def value(self, conn: Connection, query: HotQuery, name: str, picker: ParamPicker) -> Any:
        if picker.sql is None:
            return picker.literal
        if picker.sql not in self.values:
            row = conn.execute(picker.sql).fetchone()
            if row is None:
                raise UsageError(
                    f"query {query.name}: the picker for parameter {name} returned no row; "
                    "is the database seeded? (python -m dbtune seed --dsn URL)"
                )
            self.values[picker.sql] = row[0]
        return self.values[picker.sql]


def _table_rows(conn: Connection, plans: list[Plan]) -> dict[str, float]:
    names = sorted({n.relation_name for p in plans for n in p.nodes() if n.relation_name})
    if not names:
        return {}
    rows = conn.execute(
        "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
        [names],
    ).fetchall()
    return {str(r[0]): float(r[1]) for r in rows}


def _generic_plan(
    conn: Connection, query: HotQuery, params: Mapping[str, Any], server_version: int
) -> tuple[Plan | None, str | None]:
    """The generic plan, or why there is none. Runs in a savepoint: a failure is reported."""
    if not params:
        return None, "the query has no parameters"
    text, order = positional(query.sql)
    try:
        with conn.transaction():
            if server_version >= GENERIC_PLAN_OPTION_VERSION:
                row = conn.execute(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {text}").fetchone()
            else:
                name = f"dbtune_generic_{next(_statement_names)}"
                conn.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
                conn.execute(
                    sql.SQL("PREPARE {} AS {}").format(sql.Identifier(name), sql.SQL(text))
                )
                try:
                    row = conn.execute(
                        sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}({})").format(
                            sql.Identifier(name),
                            sql.SQL(", ").join(sql.Literal(params[p]) for p in order),
                        )
                    ).fetchone()
                finally:
                    conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        return None, connection_error_text(exc)
    return (parse_plan(row[0]), None) if row else (None, "EXPLAIN returned nothing")


def explain_query(
    conn: Connection,
    query: HotQuery,
    *,
    profile: str,
    pickers: Mapping[str, ParamPicker],
    analyze: bool = True,
    mode: str = WILL_USE,
    allow_writes: bool = False,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    server_version: int | None = None,
    picked: _Pickers | None = None,
) -> QueryResult:
    """EXPLAIN one query for one profile on ``conn`` (idle, not in a transaction) and check it."""
    write = is_write(query.sql)
    run_analyze = analyze and (allow_writes or not write)
    options = "ANALYZE, BUFFERS, FORMAT JSON" if run_analyze else "FORMAT JSON"
    version = server_version or conn.info.server_version
    picked = picked or _Pickers()
    conn.read_only = not (write and run_analyze)
    with conn.transaction(force_rollback=True):
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)", [str(statement_timeout_ms)]
        )
        if mode == CAN_USE:
            for setting in CAN_USE_SETTINGS:
                conn.execute("SELECT set_config(%s, 'off', true)", [setting])
        params = {name: picked.value(conn, query, name, p) for name, p in pickers.items()}
        row = conn.execute(f"EXPLAIN ({options}) {query.sql}", params).fetchone()
        if row is None:  # pragma: no cover - EXPLAIN always returns a row
            raise UsageError(f"query {query.name}: EXPLAIN returned nothing")
        plan = parse_plan(row[0])
        generic, generic_error = (None, None)
        if query.expect.generic_plan:
            generic, generic_error = _generic_plan(conn, query, params, version)
        rows = _table_rows(conn, [plan] + ([generic] if generic else []))
    ctx = CheckContext(plan, query.expect, rows, generic, generic_error)
    return QueryResult(query, profile, params, plan, tuple(run_checks(ctx)), generic, run_analyze)


def _query_error(query: HotQuery, exc: psycopg.Error) -> UsageError:
    text = connection_error_text(exc)
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        hint = "run `alembic upgrade head` on this database, or fix the workload's SQL"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        hint = "it exceeded the statement timeout; the plan has likely lost its index"
    elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        hint = (
            "reads run in a read-only transaction; a write is planned only, unless --allow-writes"
        )
    else:
        hint = "fix the query in the workload file"
    return UsageError(f"query {query.name} failed: {text} ({hint})")


def run_workload(
    url: str,
    workload: Workload,
    *,
    analyze: bool = True,
    mode: str = WILL_USE,
    allow_writes: bool = False,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> ExplainReport:
    """EXPLAIN every query and profile of ``workload`` on ``url`` and run their checks."""
    results: list[QueryResult] = []
    picked = _Pickers()
    with connect(url) as conn:
        version = conn.info.server_version
        for query in workload.queries:
            for profile, pickers in query.profile_params().items():
                try:
                    results.append(
                        explain_query(
                            conn,
                            query,
                            profile=profile,
                            pickers=pickers,
                            analyze=analyze,
                            mode=mode,
                            allow_writes=allow_writes,
                            statement_timeout_ms=statement_timeout_ms,
                            server_version=version,
                            picked=picked,
                        )
                    )
                except psycopg.OperationalError as exc:
                    if conn.closed:
                        raise ConnectionFailed(
                            f"lost the connection to {describe(url)}: {connection_error_text(exc)}"
                        ) from None
                    raise _query_error(query, exc) from None
                except psycopg.Error as exc:
                    raise _query_error(query, exc) from None
    return ExplainReport(
        target=describe(url),
        workload=workload.source,
        analyze=analyze,
        mode=mode,
        server_version=version,
        results=tuple(results),
    )
