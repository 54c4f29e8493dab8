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

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from itertools import count
from typing import Any

import psycopg
from psycopg import sql

from dbtune.advice import Advice, Advise, Setup
from dbtune.catalog import (
    TableStats,
    psycopg_query,
    psycopg_runner,
    read_tables,
    tables_from,
    tables_query,
)
from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD, CheckContext, CheckResult, run_checks
from dbtune.db import connect, connection_error_text, rolled_back
from dbtune.dsn import describe
from dbtune.errors import ConnectionFailed
from dbtune.plan import Plan, PlanParseError, parse_plan
from dbtune.query_facts import QueryFacts, query_facts
from dbtune.query_shape import shape
from dbtune.sqltext import (
    Access,
    SqlTextError,
    StatementInfo,
    analyse,
    positional,
    with_own_marker,
)
from dbtune.workload import HotQuery, ParamPicker, Workload

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 5_000
WILL_USE, CAN_USE = "will-use", "can-use"
CAN_USE_SETTINGS = ("enable_seqscan", "enable_bitmapscan", "enable_sort")
CAN_REACH = "can-reach"
"""Sequential scans off and nothing else: does any index reach the rows the query filters?
The pytest plugin's forced mode. Its findings are Seq Scans only, so switching sorts off too
would only let the forced plan's quirks (a whole index walked for its order) become findings,
and flaky ones: which disabled plan wins then hangs on the test data's statistics."""
FORCED_SETTINGS = {CAN_USE: CAN_USE_SETTINGS, CAN_REACH: ("enable_seqscan",)}
GENERIC_PLAN_OPTION_VERSION = 160_000

Connection = psycopg.Connection[tuple[Any, ...]]

_statement_names = count(1)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One query and profile: its plan and check results, or the error that stopped it."""

    query: HotQuery
    profile: str
    params: Mapping[str, Any]
    plan: Plan | None
    checks: tuple[CheckResult, ...]
    generic: Plan | None = None
    analyzed: bool = True
    error: str | None = None
    notes: tuple[str, ...] = ()
    advice: Advice | None = None
    facts: QueryFacts | None = field(default=None, repr=False, compare=False)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "pass" if all(c.passed for c in self.checks) else "fail"

    @property
    def passed(self) -> bool:
        return self.status == "pass"


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

    @property
    def errored(self) -> bool:
        return any(r.error is not None for r in self.results)


class QueryFailed(Exception):
    """One query could not be explained; the others still run."""


class _Pickers:
    """Runs each picker query once per run: profiles and queries share the same pickers."""

    def __init__(self, allow_writes: bool = False) -> None:
        self.values: dict[str, Any] = {}
        self.allow_writes = allow_writes

    def value(self, conn: Connection, query: HotQuery, name: str, picker: ParamPicker) -> Any:
        if picker.sql is None:
            return picker.literal
        if picker.sql not in self.values:
            try:
                info = analyse(picker.sql)
            except SqlTextError as exc:
                raise QueryFailed(f"the picker for parameter {name}: {exc}") from None
            if info.access is not Access.READ:
                raise QueryFailed(
                    f"the picker for parameter {name} is a {info.access.value}; a picker must "
                    "be a plain SELECT"
                )
            volatile = _volatile(conn, info)
            if volatile and not self.allow_writes:
                raise QueryFailed(
                    f"the picker for parameter {name} calls {', '.join(volatile)}, which may act "
                    "outside the transaction; pass --allow-writes to run it"
                )
            # prepare=True: the extended protocol, which runs one statement and no more.
            # Marked as dbtune's own: `workload capture --update` must not take it in.
            row = conn.execute(with_own_marker(picker.sql), prepare=True).fetchone()
            if row is None:
                raise QueryFailed(
                    f"the picker for parameter {name} returned no row; "
                    "is the database seeded? (python -m dbtune seed --dsn URL)"
                )
            self.values[picker.sql] = row[0]
        return self.values[picker.sql]


_BY_NAME = "SELECT relname, oid FROM pg_class WHERE relname = ANY(%s) ORDER BY reltuples DESC"

ROWS_PER_PAGE_GUESS = 10  # a floor for a never-analyzed table the plan did not count


def _relations(
    conn: Connection,
    info: StatementInfo,
    plans: list[Plan],
    named_rows: Sequence[Sequence[Any]] | None = None,
) -> dict[str, TableStats]:
    """What the catalog says of each relation the plans scan, keyed by the plan's name.

    The query's own relations are resolved by OID through the session's search_path (as the
    planner resolved them), so a same-named table in another schema cannot stand in. Names
    the query does not spell (a view's base tables, partitions) fall back to the largest
    relation of that name, which keeps the Seq Scan check on rather than off.
    """
    wanted = {n.relation_name for p in plans for n in p.nodes() if n.relation_name}
    if not wanted:
        return {}
    run = psycopg_runner(conn)
    if named_rows is None:
        named_rows = run(*_named_tables(info))
    named = tables_from(named_rows)
    missing = sorted(wanted - {t.name for t in named.values()})
    tables = list(named.values())
    if missing:
        oids = [int(oid) for _, oid in conn.execute(_BY_NAME, [missing]).fetchall()]
        tables += read_tables(run, oids).values()
    found: dict[str, TableStats] = {}
    for stats in tables:
        current = found.get(stats.name)
        if current is None or stats.tuples > current.tuples:
            found[stats.name] = stats
    return found


def _scans_a_table(plans: list[Plan]) -> bool:
    return any(n.node_type == "Seq Scan" for p in plans for n in p.nodes())


def _named_tables(info: StatementInfo) -> tuple[Any, dict[str, Any]]:
    """The catalog read of the query's own relations (by OID, through the search_path)."""
    return tables_query([], named=[(r.schema, r.name) for r in info.relations])


def _scanned_rows(plans: list[Plan], name: str) -> float:
    """Rows the plans' scans of ``name`` read (or, unexecuted, expected), loops included."""
    counted = [
        ((n.actual_rows if n.actual_rows is not None else n.plan_rows)
         + (n.rows_removed_by_filter or 0.0)) * (n.actual_loops or 1.0)
        for p in plans for n in p.nodes() if n.relation_name == name
    ]  # fmt: skip
    return max(counted, default=0.0)


def table_facts(
    relations: Mapping[str, TableStats], plans: list[Plan]
) -> tuple[dict[str, float], frozenset[str], frozenset[str], dict[str, str]]:
    """(rows per table, relations that are not tables, never-analyzed tables, partitions'
    parents) for the checks."""
    rows: dict[str, float] = {}
    unanalyzed = set()
    for name, relation in relations.items():
        if not relation.is_table:
            continue
        if not relation.analyzed:
            unanalyzed.add(name)
            rows[name] = max(
                _scanned_rows(plans, name), float(relation.pages * ROWS_PER_PAGE_GUESS)
            )
        else:
            rows[name] = relation.tuples
    not_tables = frozenset(n for n, r in relations.items() if not r.is_table)
    parents = {n: r.parent for n, r in relations.items() if r.parent}
    return rows, not_tables, frozenset(unanalyzed), parents


def _plan_of(row: tuple[Any, ...] | None) -> Plan:
    """The plan in EXPLAIN's one row, or the query's own failure."""
    if row is None:  # pragma: no cover - EXPLAIN always returns a row
        raise QueryFailed("EXPLAIN returned nothing")
    try:
        return parse_plan(row[0])
    except PlanParseError as exc:
        raise QueryFailed(f"unexpected EXPLAIN output: {exc}") from None


def _explain_generic(
    conn: Connection, text: str, values: list[Any] | None, count: int, server_version: int
) -> Plan:
    """The generic plan of ``text`` (``$n`` placeholders): ``EXPLAIN (GENERIC_PLAN)`` on 16+;
    before, ``PREPARE`` under ``force_generic_plan`` and ``EXPLAIN EXECUTE`` with ``values``
    (NULLs when there are none: a generic plan does not depend on them)."""
    if server_version >= GENERIC_PLAN_OPTION_VERSION:
        # $n stay unbound here, so this goes over the simple protocol; the text is the
        # workload query that pglast has already found to be one statement.
        row = conn.execute(
            sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) {}").format(sql.SQL(text))
        ).fetchone()
    else:
        name = f"dbtune_generic_{next(_statement_names)}"
        conn.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        conn.execute(sql.SQL("PREPARE {} AS {}").format(sql.Identifier(name), sql.SQL(text)))
        arguments = values if values is not None else [None] * count
        try:
            row = conn.execute(
                sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}{}").format(
                    sql.Identifier(name),
                    sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, arguments)))
                    if arguments
                    else sql.SQL(""),
                )
            ).fetchone()
        finally:
            conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))
    return _plan_of(row)


def _generic_plan(
    conn: Connection, query: HotQuery, params: Mapping[str, Any], server_version: int
) -> tuple[Plan | None, str | None]:
    """The generic plan, or why there is none. Runs in a savepoint: a failure is reported."""
    if not params:
        return None, "the query has no parameters"
    text, order = positional(query.sql)
    try:
        with conn.transaction():
            plan = _explain_generic(
                conn, text, [params[p] for p in order], len(order), server_version
            )
    except psycopg.Error as exc:
        return None, connection_error_text(exc)
    return plan, None


@dataclass(frozen=True, slots=True)
class _Execution:
    """How one statement is run: executed or only planned, and in which transaction."""

    analyze: bool
    read_only: bool
    unmeasured: str | None


GENERIC_ONLY = "a $n query: its generic plan is checked, there are no values to run it with"


def _execution(info: StatementInfo, analyze: bool, allow_writes: bool) -> _Execution:
    if info.dollar_parameters:
        return _Execution(False, True, GENERIC_ONLY)
    if not analyze:
        return _Execution(False, True, None)
    if info.access is Access.READ:
        # A read that calls a volatile function may write (nextval, a user function): with
        # --allow-writes it runs read-write (still rolled back), otherwise read-only.
        return _Execution(True, not (allow_writes and info.functions), None)
    if allow_writes:
        return _Execution(True, False, None)
    return _Execution(False, True, f"{info.access.value}: pass --allow-writes")


# Volatile by the catalog's word, but without effects outside the query.
HARMLESS_VOLATILE = frozenset(
    {"random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid", "uuidv4"}
)


def _unless_volatile(run: _Execution, volatile: list[str], allow_writes: bool) -> _Execution:
    """A volatile function may act outside the transaction (pg_terminate_backend,
    dblink_exec, nextval): plan, don't execute, unless told to."""
    if volatile and run.analyze and not allow_writes:
        return _Execution(False, True, f"calls {', '.join(volatile)}: pass --allow-writes")
    return run


def _volatile(conn: Connection, info: StatementInfo) -> list[str]:
    """The volatile functions a statement calls (by name: any overload that is volatile)."""
    names = [
        n for n in (f.rsplit(".", 1)[-1] for f in info.functions) if n not in HARMLESS_VOLATILE
    ]
    if not names:
        return []
    rows = conn.execute(
        "SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY(%s) AND provolatile = 'v'"
        " ORDER BY 1",
        [names],
    ).fetchall()
    return [str(r[0]) for r in rows]


@lru_cache(maxsize=16)
def _settings_statement(statement_timeout_ms: int, mode: str) -> sql.Composed:
    """One statement setting every value for the transaction: literal, so the same text each
    time (prepared once per connection) and nothing to bind."""
    settings = {
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(min(LOCK_TIMEOUT_MS, statement_timeout_ms)),
    }
    settings.update(dict.fromkeys(FORCED_SETTINGS.get(mode, ()), "off"))
    calls = sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value))
        for name, value in settings.items()
    )
    return sql.SQL("SELECT {}").format(calls)


def _transaction_settings(conn: Connection, statement_timeout_ms: int, mode: str) -> None:
    """Timeouts (a lock wait shows as one, not as a slow plan) and the can-use switches, for
    this transaction only, in one round trip."""
    conn.execute(_settings_statement(statement_timeout_ms, mode), prepare=True)


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
    return _plan_of(row)


def _explain_once(
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
    setup: Setup | None = None,
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD,
    allow_seq_scan: frozenset[str] = frozenset(),
    with_facts: bool = False,
) -> QueryResult:
    """EXPLAIN one query for one profile on ``conn`` (idle, not in a transaction) and check it.

    ``setup`` runs first in the (rolled-back) transaction, read-write — the advisor's what-if
    builds its index there — and returns the name of the index it made, which the checks
    then read as ``expect.index``. Raises :class:`QueryFailed` (the query's own problem) or
    ``psycopg.Error``.
    """
    try:
        info = analyse(query.sql)
    except SqlTextError as exc:
        raise QueryFailed(str(exc)) from None
    if info.access is Access.OTHER:
        raise QueryFailed(f"a {info.kind} is not a query; explain runs SELECT and DML only")
    run = _execution(info, analyze, allow_writes)
    version = server_version or conn.info.server_version
    picked = picked or _Pickers(allow_writes)
    expect = query.expect
    # rolled_back: a savepoint on a connection already in a transaction (a test's, an
    # ORM session's), and the caller's read_only as it was afterwards. In a pipeline, the
    # BEGIN, the settings and the EXPLAIN go to the server in one round trip, not four.
    # Not for $n text (a generic plan): EXPLAIN (GENERIC_PLAN) must go over the simple
    # protocol, which a pipeline never uses.
    pipelined = (
        setup is None
        and not pickers
        and not info.dollar_parameters
        and not query.expect.generic_plan
        and psycopg.Pipeline.is_supported()
    )
    with (
        conn.pipeline() if pipelined else nullcontext(),
        rolled_back(conn, read_only=run.read_only and setup is None),
    ):
        _transaction_settings(conn, statement_timeout_ms, mode)
        if setup is not None:
            made = setup.run(conn)
            if made and expect.index:
                expect = replace(expect, index=made)
        if setup is not None and run.read_only:
            conn.execute("SET TRANSACTION READ ONLY")  # read-write -> read-only is allowed
        params = {name: picked.value(conn, query, name, p) for name, p in pickers.items()}
        volatile = _volatile(conn, info)
        run = _unless_volatile(run, volatile, allow_writes)
        options = "ANALYZE, BUFFERS, FORMAT JSON" if run.analyze else "FORMAT JSON"
        generic, generic_error = (None, None)
        named_rows: list[Any] | None = None
        if info.dollar_parameters:
            text = positional(query.sql)[0]
            plan = _explain_generic(conn, text, None, info.dollar_parameters, version)
            generic = plan if query.expect.generic_plan else None
        else:
            # In a pipeline the catalog read travels with the EXPLAIN: no round trip of its own;
            # sent only when it is sure to be needed (facts for the advisor, an index named).
            pending = (
                conn.execute(*psycopg_query(*_named_tables(info)), prepare=True)
                if pipelined and (with_facts or expect.index)
                else None
            )
            plan = _explain(conn, query.sql, options, params, volatile, pipelined)
            named_rows = pending.fetchall() if pending is not None else None
        if query.expect.generic_plan and not info.dollar_parameters:
            generic, generic_error = _generic_plan(conn, query, params, version)
        plans = [plan] + ([generic] if generic else [])
        # The catalog's sizes serve the Seq Scan check only: a plan without one (most plans)
        # needs no catalog read unless a check fails and the hints want it.
        relations = (
            _relations(conn, info, plans, named_rows)
            if named_rows is not None or _scans_a_table(plans)
            else None
        )
        rows, not_tables, unanalyzed, parents = table_facts(relations or {}, plans)
        query_shape = shape(query.sql)
        ctx = CheckContext(
            plan, expect, rows, generic, generic_error, run.unmeasured,
            not_tables, unanalyzed, parents, order_by_count=query_shape.order_by_count,
            seq_scan_rows=seq_scan_rows, allow_seq_scan=allow_seq_scan,
        )  # fmt: skip
        checks = run_checks(ctx)
        facts = None
        # The catalog's columns and indexes serve the hints and the advisor: read only
        # when a check failed or an index is named (most plans pass; each read costs).
        if with_facts or expect.index or any(c.status == "fail" for c in checks):
            if relations is None:
                relations = _relations(conn, info, plans, named_rows)
            facts = query_facts(conn, query_shape, relations, expect.index)
            missing = bool(expect.index) and not facts.has_index(expect.index or "")
            ctx = replace(ctx, hints=facts.hints(), missing_index=missing and setup is None)
            checks = run_checks(ctx)
    notes: tuple[str, ...] = (
        (f"calls volatile function(s) {', '.join(volatile)}",) if volatile else ()
    )
    if info.dollar_parameters:
        notes += (
            "checked as its generic plan: what a driver that prepares runs after five "
            "executions (psycopg 3, asyncpg); psycopg2, and SQLAlchemy over it, send literals "
            "and get a custom plan each call, which a twin with picked values checks "
            "(capture writes it as <name>_custom)",
        )
    return QueryResult(
        query,
        profile,
        params,
        plan,
        tuple(checks),
        generic,
        run.analyze,
        notes=notes,
        facts=facts,
    )


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
    query: HotQuery,
    *,
    profile: str,
    pickers: Mapping[str, ParamPicker],
    mode: str = WILL_USE,
    setup: Setup | None = None,
    natural_first: bool = True,
    **options: Any,
) -> QueryResult:
    """EXPLAIN one query for one profile on ``conn`` (idle, not in a transaction) and check it.

    In can-use mode the natural plan comes first: planner settings are forced only when it
    fails, and a forced plan much worse than the natural one is reported beside it
    (``natural_first=False`` forces at once: the pytest plugin's small test databases).
    ``options`` are :func:`_explain_once`'s. Raises :class:`QueryFailed` (the query's own
    problem) or ``psycopg.Error``.
    """
    once = partial(_explain_once, conn, query, profile=profile, pickers=pickers, setup=setup,
                   **options)  # fmt: skip
    if mode not in FORCED_SETTINGS or not natural_first:
        return once(mode=mode)
    natural = once(mode=WILL_USE)
    if natural.passed:
        note = f"{mode}: the natural plan passes, so no planner setting was forced"
        return replace(natural, notes=(*natural.notes, note))
    forced = once(mode=mode)
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


def _advised(
    conn: Connection, result: QueryResult, advise: Advise, explain: Callable[..., QueryResult]
) -> QueryResult:
    """The result with the advisor's word on it, when a check failed."""
    if result.status != "fail" or result.plan is None or result.facts is None:
        return result

    def replan(setup: Setup) -> tuple[Plan, tuple[CheckResult, ...]]:
        # A hypothetical index (HypoPG) is invisible to EXPLAIN ANALYZE: plan only then.
        again = explain(setup=setup, analyze=result.analyzed and not setup.plan_only)
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
    return replace(result, advice=advice)


def run_workload(
    url: str,
    workload: Workload,
    *,
    analyze: bool = True,
    mode: str = WILL_USE,
    allow_writes: bool = False,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    advise: Advise | None = None,
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD,
    allow_seq_scan: frozenset[str] = frozenset(),
) -> ExplainReport:
    """EXPLAIN every query and profile of ``workload`` on ``url`` and run their checks.

    A query that fails becomes an ``error`` result; the others still run. ``advise`` (the
    advisor) is asked about every query that fails a check.
    """
    results: list[QueryResult] = []
    picked = _Pickers(allow_writes)
    with connect(url) as conn:
        version = conn.info.server_version
        for query in workload.queries:
            for profile, pickers in query.profile_params().items():
                error: str | None = None
                explain = partial(
                    explain_query,
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
                    seq_scan_rows=seq_scan_rows,
                    allow_seq_scan=allow_seq_scan,
                )
                try:
                    result = explain()
                    if advise is not None:
                        result = _advised(conn, result, advise, explain)
                    results.append(result)
                except QueryFailed as exc:
                    error = str(exc)
                except psycopg.Error as exc:
                    if conn.closed:
                        raise ConnectionFailed(
                            f"lost the connection to {describe(url)}: {connection_error_text(exc)}"
                        ) from None
                    error = query_error_text(exc, statement_timeout_ms)
                if error is not None:
                    results.append(QueryResult(query, profile, {}, None, (), error=error))
    return ExplainReport(
        target=describe(url),
        workload=workload.source,
        analyze=analyze,
        mode=mode,
        server_version=version,
        results=tuple(results),
    )
