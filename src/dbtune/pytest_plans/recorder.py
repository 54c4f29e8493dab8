"""The recorder: what a statement the tests sent is, and its plan, the first time it is seen.

Plans are made, never executed, through explain (the natural plan, then ``enable_seqscan =
off`` only when it fails), on the test's own connection inside a rolled-back savepoint
(psycopg 3) or on a connection of the recorder's own (the other drivers); see the package.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from pglast.parser import fingerprint
from psycopg.pq import TransactionStatus

from dbtune.capture.statements import worth_checking
from dbtune.capture.workload_file import statement_name
from dbtune.checks import CheckResult
from dbtune.config import Config
from dbtune.db import connect
from dbtune.errors import DbtuneError, first_line
from dbtune.explain.runner import CAN_REACH, PlanOptions, QueryFailed, QueryResult, explain_query
from dbtune.plan import Plan
from dbtune.pytest_plans.stats_import import StatsImports
from dbtune.query.advice import Advice, Setup
from dbtune.sql.shape import shape
from dbtune.sql.text import comments
from dbtune.workload import Expectations, HotQuery, QueryProfile

_inside = contextvars.ContextVar("dbtune_inside", default=False)


def inside() -> bool:
    """True while the recorder itself is talking to the database: not the tests' statements."""
    return _inside.get()


ALLOW_MARKER = "/* dbtune: allow-seq-scan */"


@dataclass
class Seen:
    """One distinct statement: where it was first seen, and what its plan showed."""

    name: str
    sql: str
    test: str
    driver: str
    calls: int = 1
    result: QueryResult | None = None
    error: str | None = None
    advice: Advice | None = None

    @property
    def flagged(self) -> bool:
        return self.result is not None and self.result.status == "fail"


def _walked_whole(
    result: QueryResult, allowed: frozenset[str], expect: Expectations
) -> CheckResult | None:
    """With sequential scans off, the planner may walk a whole index instead (for its order,
    or for a DISTINCT) and filter every row: no index serves the conditions then either."""
    if result.plan is None or expect.no_seq_scan is False:
        return None
    filtered = {t.name for t in shape(result.query.sql).tables if t.filtered} - allowed
    for node in result.plan.nodes():
        if (node.node_type in ("Index Scan", "Index Only Scan")
                and node.relation_name in filtered and not node.index_cond):  # fmt: skip
            return CheckResult(
                "index_cond", "fail",
                f"{node.label()} reads the whole index and filters every row "
                f"({node.filter or 'no Index Cond'}): no index serves the query's conditions",
            )  # fmt: skip
    return None


def _served_by_an_index(result: QueryResult, flag: CheckResult) -> bool:
    """An existing valid index leads with a column the query's conditions compare on the
    walked table: the forced plan walked another index because of the statistics of the
    moment (a fresh ANALYZE of a skewed table makes the primary key's order look cheaper), not
    because no index serves the condition. The flag would come and go with autovacuum."""
    if result.facts is None or result.plan is None:
        return False
    walked = {
        n.relation_name
        for n in result.plan.nodes()
        if n.node_type in ("Index Scan", "Index Only Scan") and not n.index_cond
        and n.relation_name and n.label() in flag.message
    }  # fmt: skip
    compared = {(use.name, c.column) for use in result.facts.shape.tables for c in use.conditions}
    return any(
        i.valid and not i.predicate and i.key_columns and (i.table, i.key_columns[0]) in compared
        for i in result.facts.indexes
        if i.table in walked
    )


@contextmanager
def _quiet() -> Iterator[None]:
    """The plugin's own statements are not observed."""
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)


@dataclass
class PlanRecorder:
    """Plans each new statement the tests send, once; counts the repeats."""

    config: Config
    strict: bool
    seen: dict[str, Seen] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)  # fingerprints not worth planning
    templates: dict[str, str] = field(default_factory=dict)  # statement text -> fingerprint
    current_test: str = "(collection)"
    own: dict[str, psycopg.Connection[Any]] = field(default_factory=dict)
    stats: StatsImports | None = None  # [tool.dbtune] stats: imported once per database

    def __post_init__(self) -> None:
        path = self.config.stats_path()
        if path is not None and self.stats is None:
            self.stats = StatsImports(path)

    def _name(self, literal: str) -> str | None:
        """The name of a statement worth planning, or None (utility, catalog, our own)."""
        info = worth_checking(literal)
        return None if info is None else statement_name(info.relations[0].name, info.kind, literal)

    def _expect(self, literal: str) -> tuple[Expectations, frozenset[str]]:
        """no_seq_scan on the tables the query filters; allowed tables and the marker aside."""
        if ALLOW_MARKER in comments(literal):
            return Expectations(no_seq_scan=False), frozenset()
        read_whole = frozenset(
            t.name for t in shape(literal.replace("%", "%%")).tables
            if not t.filtered and not t.order_by
        )  # fmt: skip
        return Expectations(no_seq_scan=True), frozenset(self.config.allow_seq_scan) | read_whole

    def _plan(self, conn: psycopg.Connection[Any], seen: Seen) -> None:
        if self.stats is not None:
            with _quiet():
                self.stats.ensure(conn)
        expect, allowed = self._expect(seen.sql)
        query = HotQuery(name=seen.name, sql=seen.sql.replace("%", "%%"), expect=expect)
        target = QueryProfile(query, "default", {})
        options = PlanOptions(analyze=False, mode=CAN_REACH, allow_seq_scan=allowed)
        explain = functools.partial(explain_query, conn, target, options)

        def replan(setup: Setup) -> tuple[Plan, tuple[CheckResult, ...]]:
            again = explain(setup=setup)
            if again.plan is None:  # pragma: no cover - explain_query raises instead
                raise QueryFailed("no plan")
            return again.plan, again.checks

        try:
            with _quiet():
                result = explain()
        except (QueryFailed, psycopg.Error) as exc:
            seen.error = first_line(exc)
            return
        walked = _walked_whole(result, allowed, expect)
        if walked is not None:
            try:
                with _quiet():  # again, with the catalog's facts the advisor needs
                    result = explain_query(conn, target, replace(options, with_facts=True))
            except (QueryFailed, psycopg.Error) as exc:
                seen.error = first_line(exc)
                return
            if not _served_by_an_index(result, walked):
                result = replace(result, checks=(*result.checks, walked))
        seen.result = result
        if not seen.flagged or result.facts is None or result.plan is None:
            return
        from dbtune.advisor import advisor  # only for a flagged statement

        try:
            with _quiet():
                seen.advice = advisor()(
                    conn, result.facts, result.plan, expect, seen.result.checks, replan
                )
        except (QueryFailed, psycopg.Error) as exc:
            seen.advice = Advice(f"no advice: the advisor could not finish ({first_line(exc)})")

    def repeated(self, template: str) -> bool:
        """A statement text (placeholders and all) seen before: counted, nothing more to do.
        Most of what a suite sends is a repeat; this keeps the plugin's cost per repeat to a
        dictionary lookup."""
        print_ = self.templates.get(template)
        if print_ is None:
            return False
        if print_ in self.seen:
            self.seen[print_].calls += 1
        return True

    def observe(self, literal: str, driver: str, conn: psycopg.Connection[Any] | None,
                conninfo: Callable[[], str] | None = None,
                template: str | None = None) -> None:  # fmt: skip
        """A statement the tests sent (values inlined), on ``conn`` (psycopg 3) or on a
        connection to ``conninfo()``; ``template`` is its text before the values went in."""
        if self.stats is not None and conn is not None and not conn.closed:
            with _quiet():  # before the test's transaction holds the tables
                self.stats.ensure(conn)
        # The fingerprint first (one C call): most statements a suite sends were seen before.
        try:
            print_ = fingerprint(literal)
        except Exception:
            return
        if template is not None:
            self.templates[template] = print_
        if print_ in self.seen:
            self.seen[print_].calls += 1
            return
        if print_ in self.skipped:
            return
        name = self._name(literal)
        if name is None:
            self.skipped.add(print_)
            return
        seen = self.seen[print_] = Seen(name, literal, self.current_test, driver)
        if conn is not None:
            status = conn.info.transaction_status
            if conn.closed or status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
                seen.error = "the connection was busy or in a failed transaction"
                return
            self._plan(conn, seen)
            return
        if conninfo is None:
            return
        try:
            with _quiet():
                info = conninfo()
                own = self.own.get(info)
                if own is None or own.closed:
                    own = self.own[info] = connect(
                        info, autocommit=True, application_name="dbtune pytest plugin"
                    )
        except (psycopg.Error, DbtuneError, AttributeError, TypeError) as exc:
            seen.error = f"cannot open a connection to plan on: {exc}"
            return
        self._plan(own, seen)

    def flagged(self) -> list[Seen]:
        return [s for s in self.seen.values() if s.flagged]

    def close(self) -> None:
        for conn in self.own.values():
            conn.close()
