"""Run each hot query under EXPLAIN in a transaction that is always rolled back.

EXPLAIN ANALYZE executes the statement, so a read runs in a ``READ ONLY`` transaction and a
write (INSERT/UPDATE/DELETE/MERGE) is only planned unless ``allow_writes`` — and then still
rolled back. Every statement has a ``statement_timeout``, so a regression that turns a 1 ms
query into a ten-minute scan fails the run instead of hanging CI.

The modes and the transaction's settings are :mod:`.transaction`'s, parameter values
:mod:`.params`', generic plans :mod:`.generic`'s, the scanned relations' sizes
:mod:`.relations`', the records :mod:`.results`'. Here: one query planned, judged by the
checks and enriched with the catalog's facts (:func:`explain_query`), and a whole workload
(:func:`run_workload`). The names other modules import from here stay importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from dbtune.catalog import Table, psycopg_query
from dbtune.checks import CheckContext, CheckResult, run_checks
from dbtune.db import connect, connection_error_text, rolled_back
from dbtune.db.dsn import describe
from dbtune.errors import ConnectionFailed
from dbtune.explain.best_plan import accept_if_no_index_helps
from dbtune.explain.generic import explain_generic, generic_plan, plan_of
from dbtune.explain.params import Pickers
from dbtune.explain.relations import named_tables, read_relations, scans_a_table, table_facts
from dbtune.explain.transaction import (
    CAN_USE_SETTINGS,
    FORCED_SETTINGS,
    LOCK_TIMEOUT_MS,
    Connection,
    Execution,
    execution,
    transaction_settings,
    unless_volatile,
    volatile_functions,
)
from dbtune.plan import Plan
from dbtune.query.advice import Advice, Advise, Setup
from dbtune.query.facts import QueryFacts, query_facts
from dbtune.query.options import (
    CAN_REACH,
    CAN_USE,
    DEFAULT_OPTIONS,
    WILL_USE,
    PlanOptions,
)
from dbtune.query.result import ExplainReport, QueryFailed, QueryResult
from dbtune.sql.shape import shape
from dbtune.sql.text import (
    Access,
    SqlTextError,
    StatementInfo,
    analyse,
    positional,
)
from dbtune.workload import Expectations, HotQuery, QueryProfile, Workload


def _explain(
    conn: Connection,
    text: str,
    options: str,
    params: Mapping[str, Any],
    volatile: list[str],
    pipelined: bool = False,
) -> Plan:
    explain = sql.SQL("EXPLAIN ({}) {}").format(sql.SQL(options), sql.SQL(text))
    try:
        # The extended protocol, so the server, too, refuses a second statement: a pipeline
        # always uses it; outside one, prepare=True does.
        row = conn.execute(explain, params, prepare=None if pipelined else True).fetchone()
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        calls = f" (it calls {', '.join(volatile)})" if volatile else ""
        raise QueryFailed(
            f"{connection_error_text(exc)}{calls}: it writes; pass --allow-writes to run it "
            "in a rolled-back read-write transaction"
        ) from None
    return plan_of(row)


@dataclass(frozen=True, slots=True)
class RunState:
    """What the queries of one run share: the picker values (each picker query runs once)
    and the server's version."""

    picked: Pickers
    version: int | None = None


@dataclass(frozen=True, slots=True)
class _Call:
    """One EXPLAIN of a run: what it needs beside the run's options."""

    setup: Setup | None
    picked: Pickers
    version: int
    pipelined: bool


@dataclass(frozen=True, slots=True)
class _Planned:
    """What EXPLAIN gave, inside the query's rolled-back transaction."""

    info: StatementInfo
    plan: Plan
    generic: Plan | None
    generic_error: str | None
    params: Mapping[str, Any]
    volatile: list[str]
    run: Execution
    expect: Expectations  # with ``setup``'s index name, when it made one
    named_rows: list[Any] | None  # the query's tables, read beside the EXPLAIN in a pipeline


def _plan(
    conn: Connection,
    target: QueryProfile,
    info: StatementInfo,
    run: Execution,
    options: PlanOptions,
    call: _Call,
) -> _Planned:
    """Settings, ``setup``, parameter values, then EXPLAIN (and the generic plan when asked)."""
    query, setup, version, pipelined = target.query, call.setup, call.version, call.pipelined
    expect = query.expect
    transaction_settings(conn, options.statement_timeout_ms, options.mode)
    if setup is not None:
        made = setup.run(conn)
        if made and expect.index:
            expect = replace(expect, index=made)
    if setup is not None and run.read_only:
        conn.execute("SET TRANSACTION READ ONLY")  # read-write -> read-only is allowed
    params = {name: call.picked.value(conn, query, name, p) for name, p in target.pickers.items()}
    volatile = volatile_functions(conn, info)
    run = unless_volatile(run, volatile, options.allow_writes)
    format_ = "ANALYZE, BUFFERS, FORMAT JSON" if run.analyze else "FORMAT JSON"
    generic, generic_error = (None, None)
    named_rows: list[Any] | None = None
    if info.dollar_parameters:
        text = positional(query.sql)[0]
        plan = explain_generic(conn, text, None, info.dollar_parameters, version)
        generic = plan if query.expect.generic_plan else None
    else:
        # In a pipeline the catalog read travels with the EXPLAIN: no round trip of its own;
        # sent only when it is sure to be needed (facts for the advisor, an index named).
        pending = (
            conn.execute(*psycopg_query(*named_tables(info)), prepare=True)
            if pipelined and (options.with_facts or expect.index)
            else None
        )
        plan = _explain(conn, query.sql, format_, params, volatile, pipelined)
        named_rows = pending.fetchall() if pending is not None else None
    if query.expect.generic_plan and not info.dollar_parameters:
        generic, generic_error = generic_plan(conn, query, params, version)
    return _Planned(info, plan, generic, generic_error, params, volatile, run, expect, named_rows)


def _judge(
    conn: Connection, query: HotQuery, planned: _Planned, options: PlanOptions
) -> tuple[CheckContext, list[CheckResult], dict[str, Table] | None]:
    """The checks over the plan. The catalog's sizes serve the Seq Scan check only: a plan
    without one (most plans) needs no catalog read."""
    plans = [planned.plan] + ([planned.generic] if planned.generic else [])
    relations = (
        read_relations(conn, planned.info, plans, planned.named_rows)
        if planned.named_rows is not None or scans_a_table(plans)
        else None
    )
    rows, not_tables, unanalyzed, parents = table_facts(relations or {}, plans)
    ctx = CheckContext(
        planned.plan, planned.expect, rows, planned.generic, planned.generic_error,
        planned.run.unmeasured, not_tables, unanalyzed, parents,
        order_by_count=shape(query.sql).order_by_count,
        seq_scan_rows=options.seq_scan_rows, allow_seq_scan=options.allow_seq_scan,
    )  # fmt: skip
    return ctx, run_checks(ctx), relations


def _enrich(
    conn: Connection,
    query: HotQuery,
    planned: _Planned,
    judged: tuple[CheckContext, list[CheckResult], dict[str, Table] | None],
    with_facts: bool,
    setup: Setup | None,
) -> tuple[list[CheckResult], QueryFacts | None]:
    """The catalog's columns and indexes, for the hints and the advisor: read only when a
    check failed or an index is named (most plans pass; each read costs); the checks again
    with the hints."""
    ctx, checks, relations = judged
    expect = planned.expect
    if not (with_facts or expect.index or any(c.status == "fail" for c in checks)):
        return checks, None
    if relations is None:
        plans = [planned.plan] + ([planned.generic] if planned.generic else [])
        relations = read_relations(conn, planned.info, plans, planned.named_rows)
    facts = query_facts(conn, shape(query.sql), relations, expect.index)
    missing = bool(expect.index) and not facts.has_index(expect.index or "")
    ctx = replace(ctx, hints=facts.hints(), missing_index=missing and setup is None)
    return run_checks(ctx), facts


def _pipelined(
    query: HotQuery, info: StatementInfo, setup: Setup | None, pickers: Mapping[str, Any]
) -> bool:
    """In a pipeline, the BEGIN, the settings and the EXPLAIN go to the server in one round
    trip, not four. Not for $n text (a generic plan): EXPLAIN (GENERIC_PLAN) must go over the
    simple protocol, which a pipeline never uses; nor with a setup or pickers to run first."""
    return (
        setup is None
        and not pickers
        and not info.dollar_parameters
        and not query.expect.generic_plan
        and psycopg.Pipeline.is_supported()
    )


GENERIC_NOTE = (
    "checked as its generic plan: what a driver that prepares runs after five executions "
    "(psycopg 3, asyncpg); psycopg2, and SQLAlchemy over it, send literals and get a custom "
    "plan each call, which a twin with picked values checks (capture writes it as "
    "<name>_custom)"
)


def _explain_once(
    conn: Connection,
    target: QueryProfile,
    options: PlanOptions,
    setup: Setup | None = None,
    state: RunState | None = None,
) -> QueryResult:
    """EXPLAIN one query for one profile on ``conn`` (idle, not in a transaction) and check it:
    plan, judge, enrich, all in one rolled-back transaction.

    ``setup`` runs first in the (rolled-back) transaction, read-write — the advisor's what-if
    builds its index there — and returns the name of the index it made, which the checks
    then read as ``expect.index``. Raises :class:`QueryFailed` (the query's own problem) or
    ``psycopg.Error``.
    """
    query = target.query
    try:
        info = analyse(query.sql)
    except SqlTextError as exc:
        raise QueryFailed(str(exc)) from None
    if info.access is Access.OTHER:
        raise QueryFailed(f"a {info.kind} is not a query; explain runs SELECT and DML only")
    run = execution(info, options.analyze, options.allow_writes)
    state = state or RunState(Pickers(options.allow_writes))
    call = _Call(setup, state.picked, state.version or conn.info.server_version,
                 _pipelined(query, info, setup, target.pickers))  # fmt: skip
    # rolled_back: a savepoint on a connection already in a transaction (a test's, an
    # ORM session's), and the caller's read_only as it was afterwards.
    with (
        conn.pipeline() if call.pipelined else nullcontext(),
        rolled_back(conn, read_only=run.read_only and setup is None),
    ):
        planned = _plan(conn, target, info, run, options, call)
        judged = _judge(conn, query, planned, options)
        checks, facts = _enrich(conn, query, planned, judged, options.with_facts, setup)
    return QueryResult(
        query, target.profile, planned.params, planned.plan, tuple(checks), planned.generic,
        planned.run.analyze, notes=_notes(planned.volatile, info), facts=facts,
    )  # fmt: skip


def _notes(volatile: list[str], info: StatementInfo) -> tuple[str, ...]:
    notes: tuple[str, ...] = (
        (f"calls volatile function(s) {', '.join(volatile)}",) if volatile else ()
    )
    return (*notes, GENERIC_NOTE) if info.dollar_parameters else notes


FORCED_WORSE_FACTOR = 2.0
"""A forced (can-use) plan this many times slower, or costlier, than the natural one is
reported beside it."""
DISABLED_COST = 1e9  # before PostgreSQL 18 a disabled node adds 1e10 to the cost


def _much_worse(forced: Plan, natural: Plan) -> str | None:
    """How much worse the forced plan is, when it is much worse."""
    if forced.execution_time_ms is not None and natural.execution_time_ms is not None:
        ratio = forced.execution_time_ms / max(natural.execution_time_ms, 0.001)
        figures = f"{forced.execution_time_ms:.3f} ms vs {natural.execution_time_ms:.3f} ms"
    elif forced.root.total_cost < DISABLED_COST:
        ratio = forced.root.total_cost / max(natural.root.total_cost, 0.01)
        figures = f"estimated cost {forced.root.total_cost:,.0f} vs {natural.root.total_cost:,.0f}"
    else:
        return None
    if ratio < FORCED_WORSE_FACTOR:
        return None
    return (
        f"can-use forced a plan {ratio:,.0f}x worse than the natural one ({figures}); the "
        f"natural plan is {natural.summary()}. The failures below are of the forced plan, "
        "which the planner would not choose here"
    )


def explain_query(
    conn: Connection,
    target: QueryProfile,
    options: PlanOptions = DEFAULT_OPTIONS,
    *,
    setup: Setup | None = None,
    natural_first: bool = True,
    state: RunState | None = None,
) -> QueryResult:
    """EXPLAIN one query for one profile on ``conn`` (idle, not in a transaction) and check it.

    In can-use mode the natural plan comes first: planner settings are forced only when it
    fails, and a forced plan much worse than the natural one is reported beside it
    (``natural_first=False`` forces at once: the pytest plugin's small test databases).
    ``state`` is the run's, shared by its queries. Raises :class:`QueryFailed` (the query's
    own problem) or ``psycopg.Error``.
    """

    def once(mode: str) -> QueryResult:
        return _explain_once(conn, target, replace(options, mode=mode), setup, state)

    mode = options.mode
    if mode not in FORCED_SETTINGS or not natural_first:
        return once(mode)
    natural = once(WILL_USE)
    if natural.passed:
        note = f"{mode}: the natural plan passes, so no planner setting was forced"
        return replace(natural, notes=(*natural.notes, note))
    forced = once(mode)
    worse = _much_worse(forced.plan, natural.plan) if forced.plan and natural.plan else None
    return replace(forced, notes=(*forced.notes, worse)) if worse else forced


def query_error_text(exc: psycopg.Error, statement_timeout_ms: int) -> str:
    """What went wrong with one query, and what to do about it."""
    text = connection_error_text(exc).split("; LINE ", 1)[0]
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        hint = "run `alembic upgrade head` on this database, or fix the workload's SQL"
    elif isinstance(exc, psycopg.errors.LockNotAvailable):
        hint = (
            f"it waited over {min(LOCK_TIMEOUT_MS, statement_timeout_ms) / 1000:g} s for a lock "
            "another session holds (not a plan problem); see pg_locks / pg_stat_activity"
        )
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        hint = (
            f"it ran past the statement timeout of {statement_timeout_ms / 1000:g} s; the plan "
            "has likely lost its index (try --no-analyze to see the plan)"
        )
    elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
        hint = "grant the role SELECT on the tables, or use a role that has it"
    else:
        hint = "fix the query in the workload file"
    return f"{text} ({hint})"


Explain = Callable[[Setup | None, bool | None], QueryResult]
"""One query of a run planned again: with a setup (the advisor's what-if), executed or not."""


def _advised(
    conn: Connection, result: QueryResult, advise: Advise, explain: Explain
) -> QueryResult:
    """The result with the advisor's word on it, when a check failed."""
    if result.status != "fail" or result.plan is None or result.facts is None:
        return result

    def replan(setup: Setup) -> tuple[Plan, tuple[CheckResult, ...]]:
        # A hypothetical index (HypoPG) is invisible to EXPLAIN ANALYZE: plan only then.
        again = explain(setup, result.analyzed and not setup.plan_only)
        if again.plan is None:  # pragma: no cover - explain_query raises instead
            raise QueryFailed("the what-if plan is missing")
        return again.plan, again.checks

    try:
        advice = advise(conn, result.facts, result.plan, result.query.expect, result.checks, replan)
    except (QueryFailed, psycopg.Error) as exc:
        if conn.closed:
            raise
        # The query's own verdict stands; only the advice is missing, and says why.
        text = str(exc) if isinstance(exc, QueryFailed) else connection_error_text(exc)
        advice = Advice(f"no advice: the advisor could not finish ({text.split('; LINE ')[0]})")
    return accept_if_no_index_helps(result, advice)


def _one(
    conn: Connection, url: str, target: QueryProfile, explain: Explain, advise: Advise | None,
    statement_timeout_ms: int,
) -> QueryResult:  # fmt: skip
    """One query and profile, advised when it fails; its own failure as an ``error`` result
    (the run goes on), a lost connection as the run's end."""
    query, profile = target.query, target.profile
    try:
        result = explain(None, None)
        return _advised(conn, result, advise, explain) if advise is not None else result
    except QueryFailed as exc:
        error = str(exc)
    except psycopg.Error as exc:
        if conn.closed:
            raise ConnectionFailed(
                f"lost the connection to {describe(url)}: {connection_error_text(exc)}"
            ) from None
        unplannable = _normalized_beyond_sql(query, exc)
        if unplannable is not None:
            return QueryResult(query, profile, {}, None, (unplannable,))
        error = query_error_text(exc, statement_timeout_ms)
    return QueryResult(query, profile, {}, None, (), error=error)


_NORMALIZED_AWAY = (
    psycopg.errors.SyntaxError,
    psycopg.errors.GroupingError,
    psycopg.errors.IndeterminateDatatype,
    psycopg.errors.AmbiguousFunction,
)


def _normalized_beyond_sql(query: HotQuery, exc: psycopg.Error) -> CheckResult | None:
    """A ``$n`` text the server cannot plan because pg_stat_statements put a ``$n`` where a
    constant was part of the statement's meaning (``GROUP BY date_part($2, ...)`` beside
    ``date_part($1, ...)`` in the select list): a skip that says why, never an error that
    fails every run on a file dbtune wrote."""
    try:
        numbered = analyse(query.sql).dollar_parameters
    except SqlTextError:
        return None
    if not numbered or not isinstance(exc, _NORMALIZED_AWAY):
        return None
    return CheckResult(
        "generic_plan", "skip",
        f"cannot be checked as written: pg_stat_statements replaced constants the statement "
        f"needs with $n ({connection_error_text(exc).split('; LINE ')[0]}); to check it, "
        "write it in the workload with its constants and named parameters (%(name)s)",
    )  # fmt: skip


def run_workload(
    url: str,
    workload: Workload,
    options: PlanOptions = DEFAULT_OPTIONS,
    *,
    advise: Advise | None = None,
    prepare: Callable[[Connection], None] | None = None,
) -> ExplainReport:
    """EXPLAIN every query and profile of ``workload`` on ``url`` and run their checks.

    A query that fails becomes an ``error`` result; the others still run. ``advise`` (the
    advisor) is asked about every query that fails a check. ``prepare`` runs first, in a
    transaction that holds every query's (each then a savepoint) and is rolled back at the
    end: ``explain --stats`` imports production's statistics there.
    """
    results: list[QueryResult] = []
    with (
        connect(url) as conn,
        conn.transaction(force_rollback=True) if prepare else nullcontext(),
    ):
        state = RunState(Pickers(options.allow_writes), conn.info.server_version)
        if prepare is not None:
            prepare(conn)
        for target in workload.profiles():

            def explain(
                setup: Setup | None, analyze: bool | None, target: QueryProfile = target
            ) -> QueryResult:
                again = options if analyze is None else replace(options, analyze=analyze)
                return explain_query(conn, target, again, setup=setup, state=state)

            results.append(_one(conn, url, target, explain, advise, options.statement_timeout_ms))
    return ExplainReport(
        target=describe(url),
        workload=workload.source,
        analyze=options.analyze,
        mode=options.mode,
        server_version=state.version or 0,
        results=tuple(results),
    )


__all__ = [
    "CAN_REACH",
    "CAN_USE",
    "CAN_USE_SETTINGS",
    "WILL_USE",
    "ExplainReport",
    "PlanOptions",
    "QueryFailed",
    "QueryResult",
    "RunState",
    "explain_query",
    "query_error_text",
    "run_workload",
    "table_facts",
]
