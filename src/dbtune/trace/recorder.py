"""Listen to every statement Alembic sends on the trace's engine and read the server around it.

SQLAlchemy's ``before_cursor_execute``/``after_cursor_execute`` wrap each statement — the
revision's own ``op`` calls, dbtune's helpers, raw ``op.execute`` — and ``commit``/``rollback``
end a transaction, which tells how long each lock stayed held. On psycopg, parameters are bound
into the text with psycopg's own client-side quoting, so the parse tree is the statement that
ran; asyncpg binds them on the server, and the tree keeps its ``$1`` placeholders.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event

from dbtune.trace import observe, parsed
from dbtune.trace.record import Relation, RevisionTrace, StatementTrace


class Recorder:
    """Records statements into the current :class:`RevisionTrace` while one is set."""

    def __init__(self, engine: sa.Engine, version_table: str, version_schema: str | None):
        """``engine``: a sync engine (an async engine's ``sync_engine``: the events are its)."""
        self.current: RevisionTrace | None = None
        self._version = (version_table, version_schema)
        self._pending: tuple[StatementTrace, observe.Snapshot, float] | None = None
        self._transaction = 1
        self._open: list[tuple[StatementTrace, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._error)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    @staticmethod
    def _driver(conn: sa.Connection) -> observe.Driver:
        return conn.connection.dbapi_connection

    def _text(self, driver: observe.Driver, statement: str, parameters: Any) -> str:
        if not isinstance(driver, psycopg.Connection):
            return statement  # bound on the server: its placeholders parse as ParamRef
        if (
            isinstance(parameters, list | tuple)
            and parameters
            and isinstance(parameters[0], dict | list | tuple)
        ):
            parameters = parameters[0]  # executemany: the first set stands for all
        if not parameters:
            return statement
        try:
            return psycopg.ClientCursor(driver).mogrify(statement, parameters)
        except (psycopg.Error, TypeError, ValueError):
            return statement

    def _before(
        self,
        conn: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        revision = self.current
        if revision is None:
            return
        driver = self._driver(conn)
        text = self._text(driver, statement, parameters)
        nodes = parsed.parse(text)
        table, schema = self._version
        record = StatementTrace(
            number=len(revision.statements) + 1,
            sql=text.strip(),
            nodes=nodes,
            autocommit=bool(driver.autocommit),
            transaction=0 if driver.autocommit else self._transaction,
            bookkeeping=bool(nodes)
            and all(parsed.touches(n, table, schema) or parsed.is_catalog_read(n) for n in nodes),
        )
        revision.statements.append(record)
        if observe.failed(driver):
            record.observed = False
            self._pending = None
            return
        try:
            before = observe.snapshot(driver)
        except Exception:  # asyncpg's adapter raises its own classes in a failed transaction
            record.observed = False
            self._pending = None
            return
        record.lock_timeout, record.statement_timeout = (
            before.lock_timeout,
            before.statement_timeout,
        )
        names = [name for node in nodes for name in parsed.named_relations(node)]
        targets: list[Relation] = []
        for oid in observe.resolve(driver, names):
            relation = before.relation(oid) if oid is not None else None
            if relation is not None and relation not in targets:
                targets.append(relation)
        record.targets = tuple(targets)
        self._pending = (record, before, time.perf_counter())

    def _after(
        self,
        conn: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        record, before, started = pending
        ended = time.perf_counter()
        record.duration_ms = (ended - started) * 1000
        record.rowcount = int(getattr(cursor, "rowcount", -1) or 0)
        driver = self._driver(conn)
        after = observe.snapshot(driver)
        found = observe.changes(before, after, same_transaction=not record.autocommit)
        if record.bookkeeping and (
            any(lock.blocks_writes for lock in found.locks)
            or found.rewritten
            or found.created
            or found.dropped
            or found.constraints
        ):
            record.bookkeeping = False  # a SELECT of a function that did real work
        record.locks, record.rewritten, record.scanned = found.locks, found.rewritten, found.scanned
        record.created, record.dropped = found.created, found.dropped
        record.constraints = found.constraints
        if not record.autocommit:
            self._open.append((record, ended))

    def _error(self, context: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            error = context.original_exception
            first = str(error).strip().splitlines()
            pending[0].error = first[0] if first else type(error).__name__

    def _end(self, conn: sa.Connection) -> None:
        now = time.perf_counter()
        for record, ended in self._open:
            record.held_ms = (now - ended) * 1000
        self._open = []
        self._transaction += 1
