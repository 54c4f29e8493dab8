"""The recorder behind ``pytest --dbtune-plans`` (:mod:`dbtune.pytest_plugin` loads it only
when the option is given, so a plain pytest run pays nothing for it).

With ``--dbtune-plans`` the plugin watches what the tests send through
psycopg 3, psycopg2, asyncpg and SQLAlchemy, and plans each *distinct* statement (pglast's
fingerprint: the same statement with other values is the same one) the first time it is seen,
with the values it was sent with:

- on the same connection and transaction for psycopg 3 (and SQLAlchemy over it), inside a
  savepoint that is rolled back — so it sees the test's own rows, and a test database that
  is dropped after each test is no obstacle (planning at the end of the session, as one might
  expect, would find most test databases gone);
- on a psycopg 3 connection of the plugin's own for the other drivers (committed data only).

Plans are made, never executed (writes included): the natural plan first, and only when it
fails (test tables are small, so it often is a Seq Scan) again with ``enable_seqscan = off`` and
nothing else forced — a forced sort or bitmap setting made the forced plan's quirks into false
and flaky findings. A Seq Scan that survives ``enable_seqscan = off`` on a table the query
filters (any condition on that table alone: a function, a leading-wildcard LIKE, an OR) means
no index can serve it, whatever the table's size. A table the query reads whole (no condition
on it but joins) is not held against it. Allowed: the tables
of ``[tool.dbtune] allow_seq_scan``, and any query with the comment ``/* dbtune:
allow-seq-scan */``. The terminal summary lists each flagged statement with its tables, plan,
failed checks and the advisor's suggested index; ``--dbtune-plans-report PATH`` writes JSON
(or JUnit XML for ``.xml``); ``--dbtune-plans=strict`` fails the session on a finding;
``--dbtune-write-workload PATH`` saves what was seen as a workload with baseline expectations.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.abc
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pglast.parser import fingerprint
from psycopg import sql
from psycopg.pq import TransactionStatus

from dbtune.advice import Advice, Setup
from dbtune.capture.statements import worth_checking
from dbtune.capture.workload_file import statement_name
from dbtune.checks import CheckResult
from dbtune.config import Config
from dbtune.explain.runner import CAN_REACH, QueryFailed, QueryResult, explain_query
from dbtune.plan import Plan
from dbtune.query_shape import shape
from dbtune.sqltext import (
    comments,
    replace_parameters,
)
from dbtune.testing import driver_conninfo

if TYPE_CHECKING:
    from dbtune.results import Report
from dbtune.workload import Expectations, HotQuery

ALLOW_MARKER = "/* dbtune: allow-seq-scan */"
_inside = contextvars.ContextVar("dbtune_inside", default=False)


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


@contextmanager
def _quiet() -> Iterator[None]:
    """The plugin's own statements are not observed."""
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)


def _inline(text: str, args: tuple[Any, ...]) -> str:
    """``$n`` -> literals (asyncpg sends the values apart from the text)."""
    return replace_parameters(text, lambda n: sql.Literal(args[n - 1]).as_string())


class _ThenWatch(importlib.abc.Loader):
    """The driver's own loader, and the recorder's watch once the module has run."""

    def __init__(self, loader: importlib.abc.Loader, then: Callable[[], None]) -> None:
        self.loader, self.then = loader, then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        module.__loader__ = self.loader  # as if we had never been there
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.then()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


class DriverImportHook(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: when one of ``modules`` is imported, it asks the
    other finders for it and wraps the loader, so that ``watch(name)`` runs right after the
    module's own code, before anything else can call it."""

    def __init__(self, modules: frozenset[str], watch: Callable[[str], None]) -> None:
        self.modules, self.watch = modules, watch
        self.busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname not in self.modules or fullname in self.busy:
            return None
        self.busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _ThenWatch(spec.loader, functools.partial(self.watch, fullname))
        return spec


@dataclass
class PlanRecorder:
    """Watches the drivers, plans each new statement, reports at the end."""

    config: Config
    strict: bool
    seen: dict[str, Seen] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)  # fingerprints not worth planning
    templates: dict[str, str] = field(default_factory=dict)  # statement text -> fingerprint
    current_test: str = "(collection)"
    own: dict[str, psycopg.Connection[Any]] = field(default_factory=dict)
    undo: list[Callable[[], None]] = field(default_factory=list)
    drivers: set[str] = field(default_factory=set)  # optional drivers watched so far
    hook: DriverImportHook | None = None

    # --- what a statement is, and planning it --------------------------------------------

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
        expect, allowed = self._expect(seen.sql)
        query = HotQuery(name=seen.name, sql=seen.sql.replace("%", "%%"), expect=expect)
        explain = functools.partial(
            explain_query, conn, query, profile="default", pickers={}, analyze=False,
            mode=CAN_REACH, allow_seq_scan=allowed,
        )  # fmt: skip

        def replan(setup: Setup) -> tuple[Plan, tuple[CheckResult, ...]]:
            again = explain(setup=setup)
            if again.plan is None:  # pragma: no cover - explain_query raises instead
                raise QueryFailed("no plan")
            return again.plan, again.checks

        try:
            with _quiet():
                result = explain()
        except (QueryFailed, psycopg.Error) as exc:
            seen.error = _first_line(exc)
            return
        walked = _walked_whole(result, allowed, expect)
        if walked is not None:
            try:
                with _quiet():  # again, with the catalog's facts the advisor needs
                    result = explain(with_facts=True)
            except (QueryFailed, psycopg.Error) as exc:
                seen.error = _first_line(exc)
                return
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
            seen.advice = Advice(f"no advice: the advisor could not finish ({_first_line(exc)})")

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
                    own = self.own[info] = psycopg.connect(
                        info, autocommit=True, application_name="dbtune pytest plugin"
                    )
        except (psycopg.Error, AttributeError, TypeError) as exc:
            seen.error = f"cannot open a connection to plan on: {exc}"
            return
        self._plan(own, seen)

    # --- the drivers ---------------------------------------------------------------------

    def _patch(self, owner: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        setattr(owner, name, wrapper(original))
        self.undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        recorder = self

        def psycopg_execute(original: Any) -> Any:
            @functools.wraps(original)
            def execute(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
                result = original(cur, query, params, **kw)
                if not _inside.get():
                    with suppress(psycopg.Error, ValueError, TypeError):
                        conn = cur.connection
                        text = query if isinstance(query, str) else query.as_string(conn)
                        if not recorder.repeated(text):
                            literal = psycopg.ClientCursor(conn).mogrify(query, params)
                            recorder.observe(literal, "psycopg", conn, template=text)
                return result

            return execute

        self._patch(psycopg.Cursor, "execute", psycopg_execute)

        def psycopg_async_execute(original: Any) -> Any:
            @functools.wraps(original)
            async def execute(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
                result = await original(cur, query, params, **kw)
                if not _inside.get():
                    with suppress(psycopg.Error, ValueError, TypeError):
                        conn = cur.connection
                        text = query if isinstance(query, str) else query.as_string(conn)
                        if not recorder.repeated(text):
                            literal = psycopg.AsyncClientCursor(conn).mogrify(query, params)
                            recorder.observe(literal, "psycopg async", None,
                                             lambda: driver_conninfo(conn), text)  # fmt: skip
                return result

            return execute

        self._patch(psycopg.AsyncCursor, "execute", psycopg_async_execute)
        self.install_imported()

    def _optional_drivers(self) -> dict[str, Callable[[], None]]:
        return {
            "psycopg2": self._install_psycopg2,
            "asyncpg": self._install_asyncpg,
            "sqlalchemy": self._install_sqlalchemy,
        }

    def install_imported(self) -> None:
        """Watch each optional driver imported by now, and every other one the moment it is
        imported. Importing one ourselves would make a suite that never uses it pay its import
        (SQLAlchemy, asyncpg and psycopg2 together: about 0.2 s); waiting for the next test
        would miss a library that imports its driver inside its first call, and that whole
        test's statements with it."""
        drivers = self._optional_drivers()
        for module in drivers:
            if module in sys.modules:
                self._watch(module)
        if self.hook is None and any(m not in self.drivers for m in drivers):
            self.hook = DriverImportHook(frozenset(drivers), self._watch)
            sys.meta_path.insert(0, self.hook)
            self.undo.append(self._remove_hook)

    def _watch(self, module: str) -> None:
        if module not in self.drivers:
            self.drivers.add(module)
            self._optional_drivers()[module]()

    def _remove_hook(self) -> None:
        if self.hook is not None:
            with suppress(ValueError):
                sys.meta_path.remove(self.hook)
        self.hook = None

    def _install_psycopg2(self) -> None:
        try:
            import psycopg2
            import psycopg2.extensions
        except ImportError:
            return
        recorder = self

        class Cursor(psycopg2.extensions.cursor):  # type: ignore[misc]
            def execute(self, query: Any, vars: Any = None) -> Any:
                result = super().execute(query, vars)
                if not _inside.get() and not recorder.repeated(str(query)):
                    with suppress(Exception):
                        literal = self.mogrify(query, vars).decode()
                        conn = self.connection
                        recorder.observe(literal, "psycopg2", None,
                                         lambda: driver_conninfo(conn), str(query))  # fmt: skip
                return result

        def connect(original: Any) -> Any:
            @functools.wraps(original)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                kwargs.setdefault("cursor_factory", Cursor)
                return original(*args, **kwargs)

            return wrapped

        self._patch(psycopg2, "connect", connect)

    def _install_asyncpg(self) -> None:
        try:
            from asyncpg.connection import Connection
        except ImportError:
            return
        recorder = self

        def method(original: Any) -> Any:
            @functools.wraps(original)
            async def wrapped(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
                result = await original(conn, query, *args, **kwargs)
                if not _inside.get() and not recorder.repeated(query):
                    with suppress(Exception):
                        literal = _inline(query, args) if args else query
                        recorder.observe(literal, "asyncpg", None,
                                         lambda: driver_conninfo(conn), query)  # fmt: skip
                return result

            return wrapped

        for name in ("execute", "fetch", "fetchrow", "fetchval"):
            self._patch(Connection, name, method)

    def _install_sqlalchemy(self) -> None:
        """SQLAlchemy's engine events, for the statements its drivers do not show us
        themselves (psycopg 3, sync and async, and psycopg2 are watched directly)."""
        import sqlalchemy as sa

        recorder = self

        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:  # fmt: skip
            if executemany or _inside.get():
                return
            driver = conn.connection.driver_connection
            if isinstance(driver, psycopg.Connection | psycopg.AsyncConnection) or type(
                driver
            ).__module__.startswith("psycopg2"):
                return  # counted by the driver's own wrapper
            # asyncpg under SQLAlchemy runs prepared statements (PreparedStatement.fetch), which
            # the wrapper of asyncpg's Connection methods never sees: counted here.
            if recorder.repeated(statement):
                return
            with suppress(Exception):
                url = conn.engine.url.set(drivername="postgresql")
                literal = _inline(statement, tuple(parameters or ()))
                recorder.observe(literal, "sqlalchemy", None,
                                 lambda: url.render_as_string(hide_password=False),
                                 statement)  # fmt: skip

        sa.event.listen(sa.Engine, "after_cursor_execute", after)
        self.undo.append(lambda: sa.event.remove(sa.Engine, "after_cursor_execute", after))

    def uninstall(self) -> None:
        for undo in reversed(self.undo):
            undo()
        self.undo.clear()
        for conn in self.own.values():
            conn.close()

    # --- pytest hooks --------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        self.current_test = item.nodeid
        try:
            return (yield)
        finally:
            self.current_test = "(between tests)"

    def flagged(self) -> list[Seen]:
        return [s for s in self.seen.values() if s.flagged]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        flagged = self.flagged()
        errors = [s for s in self.seen.values() if s.error]
        tr = terminalreporter
        tr.section("dbtune plans")
        tr.write_line(
            f"{len(self.seen)} distinct statements planned (natural plan, then seqscan off), "
            f"{len(flagged)} "
            f"flagged, {len(errors)} could not be planned"
        )
        for s in flagged:
            assert s.result is not None
            tr.write_line(f"FLAGGED {s.name} (first in {s.test}, {s.driver}, {s.calls}x)")
            tr.write_line(f"  sql: {s.sql}")
            if s.result.plan:
                tr.write_line(f"  plan: {s.result.plan.summary()}")
            for c in s.result.checks:
                if c.status == "fail":
                    tr.write_line(f"  {c.id}: {c.message}")
            if s.advice is not None:
                tr.write_line(f"  advice: {s.advice.message}")
        for s in errors:
            tr.write_line(f"not planned: {s.name} ({s.test}): {s.error}")

    def report(self) -> Report:
        from dbtune.results import Outcome, Report, Section  # the end of the session only

        sections = []
        for s in self.seen.values():
            outcomes = [Outcome(c.id, c.status, s.name, c.message)
                        for c in (s.result.checks if s.result else ())]  # fmt: skip
            if s.error:
                outcomes.append(Outcome("plan", "skip", s.name, f"not planned: {s.error}"))
            if s.advice is not None:
                fix = s.advice.fix
                outcomes.append(Outcome("advice", "fail", s.name, s.advice.message, fix))
            plan = s.result.plan.summary() if s.result and s.result.plan else ""
            sections.append(Section(s.name, tuple(outcomes), plan))
        return Report("pytest --dbtune-plans", "the tests' databases", tuple(sections),
                      caption="natural plan, then enable_seqscan = off; plans only")  # fmt: skip

    def as_json(self) -> str:
        return json.dumps(
            {
                "flagged": len(self.flagged()),
                "statements": [
                    {
                        "name": s.name, "sql": s.sql, "test": s.test, "driver": s.driver,
                        "calls": s.calls,
                        "status": "error" if s.error else (s.result.status if s.result else "?"),
                        "tables": sorted({n.relation_name for n in s.result.plan.nodes()
                                          if n.relation_name}) if s.result and s.result.plan
                        else [],
                        "plan": s.result.plan.summary() if s.result and s.result.plan else None,
                        "checks": [{"id": c.id, "status": c.status, "message": c.message}
                                   for c in (s.result.checks if s.result else ())],
                        "advice": s.advice.to_dict() if s.advice else None,
                        "error": s.error,
                    }
                    for s in self.seen.values()
                ],
            },
            indent=2,
        )  # fmt: skip

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        options = session.config.option
        if options.dbtune_plans_report:
            path = Path(options.dbtune_plans_report)
            if path.suffix == ".xml":
                from dbtune.results import render_junit

                text = render_junit(self.report())
            else:
                text = self.as_json()
            path.write_text(text)
        if options.dbtune_write_workload:
            self.write_workload(Path(options.dbtune_write_workload))
        if self.strict and self.flagged() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.uninstall()

    def write_workload(self, path: Path) -> None:
        queries = [
            HotQuery(name=s.name, sql=s.sql.replace("%", "%%"),
                     description=f"seen in {s.test} ({s.calls}x)",
                     captured={"fingerprint": fingerprint(s.sql), "calls": s.calls})
            for s in self.seen.values()
        ]  # fmt: skip
        plans = {s.name: s.result.plan if s.result else None for s in self.seen.values()}
        header = "Written by pytest --dbtune-write-workload: the statements the tests sent."
        from dbtune.capture.workload_file import render, with_baselines

        path.write_text(render(with_baselines(queries, plans), header))


__all__ = ["ALLOW_MARKER", "PlanRecorder", "Seen"]
