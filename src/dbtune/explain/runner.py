"""Run each hot query under EXPLAIN in a transaction that is always rolled back.

EXPLAIN ANALYZE executes the statement, so every query runs in a ``READ ONLY`` transaction
that is rolled back whatever happens, with a ``statement_timeout`` so a regression that turns
a 1 ms query into a 10-minute scan fails the check instead of hanging CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbtune.checks import CheckResult, run_checks
from dbtune.db import connect, connection_error_text
from dbtune.dsn import describe
from dbtune.errors import ConnectionFailed, UsageError
from dbtune.explain.plan import Plan, parse_plan
from dbtune.workload import HotQuery, ParamPicker, Workload

STATEMENT_TIMEOUT_MS = 30_000

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class QueryResult:
    query: HotQuery
    params: Mapping[str, Any]
    plan: Plan
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True, slots=True)
class ExplainReport:
    target: str
    workload: str
    analyze: bool
    mode: str = "will-use"
    results: tuple[QueryResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _pick(conn: Connection, query: HotQuery, name: str, picker: ParamPicker) -> Any:
    if picker.sql is None:
        return picker.literal
    row = conn.execute(picker.sql).fetchone()
    if row is None:
        raise UsageError(
            f"query {query.name}: the picker for parameter {name} returned no row; "
            "is the database seeded? (python -m dbtune seed --dsn URL)"
        )
    return row[0]


def _explain_one(conn: Connection, query: HotQuery, analyze: bool, timeout_ms: int) -> QueryResult:
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
        params = {name: _pick(conn, query, name, p) for name, p in query.params.items()}
        row = conn.execute(f"EXPLAIN ({options}) {query.sql}", params).fetchone()
    if row is None:  # pragma: no cover - EXPLAIN always returns a row
        raise UsageError(f"query {query.name}: EXPLAIN returned nothing")
    plan = parse_plan(row[0])
    return QueryResult(query, params, plan, tuple(run_checks(plan, query.expect)))


def _query_error(query: HotQuery, exc: psycopg.Error) -> UsageError:
    text = connection_error_text(exc)
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        hint = "run `alembic upgrade head` on this database, or fix the workload's SQL"
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        hint = "it exceeded the statement timeout; the plan has likely lost its index"
    else:
        hint = "fix the query in the workload file"
    return UsageError(f"query {query.name} failed: {text} ({hint})")


def run_workload(
    url: str,
    workload: Workload,
    *,
    analyze: bool = True,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> ExplainReport:
    """EXPLAIN every query of ``workload`` on ``url`` and run the checks it asks for."""
    results: list[QueryResult] = []
    with connect(url) as conn:
        conn.read_only = True
        for query in workload.queries:
            try:
                results.append(_explain_one(conn, query, analyze, statement_timeout_ms))
            except psycopg.OperationalError as exc:
                if conn.closed:
                    raise ConnectionFailed(
                        f"lost the connection to {describe(url)}: {connection_error_text(exc)}"
                    ) from None
                raise _query_error(query, exc) from None
            except psycopg.Error as exc:
                raise _query_error(query, exc) from None
    return ExplainReport(
        target=describe(url), workload=workload.source, analyze=analyze, results=tuple(results)
    )
