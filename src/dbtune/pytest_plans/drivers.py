"""The drivers' patches: each statement the tests send, handed to the recorder.

psycopg 3 (sync and async cursors), psycopg2 (a cursor factory), asyncpg (its connection's
methods) and SQLAlchemy (its engine's events, for what the drivers' own patches do not see:
asyncpg's prepared statements under SQLAlchemy). psycopg 3 is patched at once; the optional
drivers when they are imported (:class:`DriverImportHook`), never by the plugin itself.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql

from dbtune.pytest_plans.recorder import PlanRecorder, inside
from dbtune.sql.text import replace_parameters
from dbtune.testing import driver_conninfo


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


def _after_psycopg(recorder: PlanRecorder, cur: Any, query: Any, params: Any) -> None:
    """A psycopg 3 statement, sync or async: planned on its own connection when it is a
    sync one (inside a savepoint), on the recorder's own connection otherwise."""
    if inside():
        return
    with suppress(psycopg.Error, ValueError, TypeError):
        conn = cur.connection
        text = query if isinstance(query, str) else query.as_string(conn)
        if recorder.repeated(text):
            return
        if isinstance(conn, psycopg.Connection):
            literal = psycopg.ClientCursor(conn).mogrify(query, params)
            recorder.observe(literal, "psycopg", conn, template=text)
        else:
            literal = psycopg.AsyncClientCursor(conn).mogrify(query, params)
            recorder.observe(literal, "psycopg async", None, lambda: driver_conninfo(conn), text)


@dataclass
class DriverWatch:
    """The patches in place for one session, and how to take them out again."""

    recorder: PlanRecorder
    undo: list[Callable[[], None]] = field(default_factory=list)
    drivers: set[str] = field(default_factory=set)  # optional drivers watched so far
    hook: DriverImportHook | None = None

    def _patch(self, owner: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        setattr(owner, name, wrapper(original))
        self.undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        recorder = self.recorder

        def psycopg_execute(original: Any) -> Any:
            @functools.wraps(original)
            def execute(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
                result = original(cur, query, params, **kw)
                _after_psycopg(recorder, cur, query, params)
                return result

            return execute

        def psycopg_async_execute(original: Any) -> Any:
            @functools.wraps(original)
            async def execute(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
                result = await original(cur, query, params, **kw)
                _after_psycopg(recorder, cur, query, params)
                return result

            return execute

        self._patch(psycopg.Cursor, "execute", psycopg_execute)
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
        recorder = self.recorder

        class Cursor(psycopg2.extensions.cursor):  # type: ignore[misc]
            def execute(self, query: Any, vars: Any = None) -> Any:
                result = super().execute(query, vars)
                if not inside() and not recorder.repeated(str(query)):
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
        recorder = self.recorder

        def method(original: Any) -> Any:
            @functools.wraps(original)
            async def wrapped(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
                result = await original(conn, query, *args, **kwargs)
                if not inside() and not recorder.repeated(query):
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

        recorder = self.recorder

        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:  # fmt: skip
            if executemany or inside():
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
