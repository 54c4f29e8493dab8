"""Assert query plans in your own tests, with the messages ``dbtune explain`` prints.

::

    from dbtune.testing import assert_plan

    def test_inbox_uses_its_index(db_conn):
        assert_plan(
            db_conn,
            "SELECT id FROM messages WHERE user_id = %(u)s ORDER BY created_at DESC LIMIT 20",
            {"u": 42}, index="ix_messages_user_id_created_at", no_sort=True,
        )

The query runs under EXPLAIN ANALYZE in a rolled-back read-only transaction — a savepoint when
the connection is already inside one, so it sees the test's own uncommitted rows and leaves
them as they were. ``can_use=True`` switches off sequential scans, bitmap scans and sorts, for
small test databases.

``conn`` may be a psycopg 3 connection, a SQLAlchemy ``Connection``, ``Session`` or ``Engine``
(on psycopg 3 the plan is made on the same connection and transaction), or a psycopg2
connection; :func:`assert_plan_async` takes an asyncpg connection. psycopg2, asyncpg and
SQLAlchemy over psycopg2 are planned on a psycopg 3 connection of dbtune's own to the same
database, which sees only committed data. ``expect=Expectations(...)`` passes a whole set of
expectations (a workload's, say); keywords add to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import psycopg

from dbtune.db import connect
from dbtune.explain.runner import (
    CAN_USE,
    WILL_USE,
    PlanOptions,
    QueryFailed,
    QueryResult,
    explain_query,
)
from dbtune.workload import Expectations, HotQuery, ParamPicker, QueryProfile

__all__ = ["assert_plan", "assert_plan_async"]


def _own_connection(conninfo: str) -> psycopg.Connection[Any]:
    return connect(conninfo, application_name="dbtune assert_plan")


def _psycopg(conn: Any) -> tuple[psycopg.Connection[Any], bool]:
    """(a psycopg 3 connection to plan on, whether it is dbtune's own to close)."""
    if isinstance(conn, psycopg.Connection):
        return conn, False
    module = type(conn).__module__
    if module.startswith("sqlalchemy"):
        import sqlalchemy as sa
        from sqlalchemy.orm import Session

        if isinstance(conn, Session):
            conn = conn.connection()
        if isinstance(conn, sa.Engine):
            url = conn.url
        elif isinstance(conn, sa.Connection):
            driver = conn.connection.driver_connection
            if isinstance(driver, psycopg.Connection):
                return driver, False
            url = conn.engine.url
        else:
            raise TypeError(f"assert_plan: cannot plan on a {type(conn).__qualname__}")
        url = url.set(drivername="postgresql")
        return _own_connection(url.render_as_string(hide_password=False)), True
    if module.startswith("psycopg2"):
        return _own_connection(driver_conninfo(conn)), True
    raise TypeError(
        f"assert_plan takes a psycopg 3, psycopg2 or SQLAlchemy connection, not a "
        f"{type(conn).__qualname__} (asyncpg: await assert_plan_async(...))"
    )


def _expectations(expect: Expectations | None, keys: Mapping[str, Any]) -> Expectations:
    try:
        added = Expectations.from_mapping(keys)
    except ValueError as exc:
        raise TypeError(f"assert_plan: {exc}") from None
    if expect is None:
        return added
    return replace(expect, **{k: getattr(added, k) for k in keys})


def assert_plan(
    conn: Any,
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    analyze: bool = True,
    can_use: bool = False,
    expect: Expectations | None = None,
    **keys: Any,
) -> QueryResult:
    """Raise ``AssertionError`` listing every failed check; return the result otherwise.

    ``keys`` are the workload's ``expect`` keys (:class:`~dbtune.workload.Expectations`):
    ``index``, ``index_only``, ``max_heap_fetches``, ``no_sort``, ``no_seq_scan``,
    ``max_filter_ratio``, ``max_buffers``, ``generic_plan``; a misspelt one is a ``TypeError``.
    """
    expectations = _expectations(expect, keys)
    target, owned = _psycopg(conn)
    try:
        return _assert(target, sql, params, analyze, can_use, expectations)
    finally:
        if owned:
            target.close()


async def assert_plan_async(
    conn: Any,
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    analyze: bool = True,
    can_use: bool = False,
    expect: Expectations | None = None,
    **keys: Any,
) -> QueryResult:
    """:func:`assert_plan` for an asyncpg connection (or a psycopg ``AsyncConnection``):
    planned on a psycopg 3 connection of dbtune's own to the same database, in a thread."""
    expectations = _expectations(expect, keys)
    conninfo = driver_conninfo(conn)

    def run() -> QueryResult:
        with _own_connection(conninfo) as target:
            return _assert(target, sql, params, analyze, can_use, expectations)

    return await asyncio.to_thread(run)


def driver_conninfo(conn: Any) -> str:
    """A libpq conninfo for the database an asyncpg, psycopg2 or psycopg async connection is
    on, password included (the pytest plugin plans on a connection of its own with it)."""
    if type(conn).__module__.startswith("psycopg2"):
        password = getattr(getattr(conn, "info", None), "password", None)
        return psycopg.conninfo.make_conninfo(conn.dsn, password=password)
    if isinstance(conn, psycopg.AsyncConnection):
        return psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password)
    if type(conn).__module__.startswith("asyncpg"):
        # asyncpg keeps where it connected in its connection object; no public accessor.
        params, addr = conn._params, conn._addr
        host, port = (addr, None) if isinstance(addr, str) else addr
        if isinstance(addr, str):  # a unix socket path: its directory and the port in its name
            directory, _, name = addr.rpartition("/")
            host, port = directory, name.rsplit(".", 1)[-1]
        return psycopg.conninfo.make_conninfo(
            host=host, port=port, user=params.user, password=params.password or None,
            dbname=params.database,
        )  # fmt: skip
    raise TypeError(
        f"assert_plan_async takes an asyncpg or psycopg AsyncConnection, not a "
        f"{type(conn).__qualname__}"
    )


def _assert(
    conn: psycopg.Connection[Any],
    sql: str,
    params: Mapping[str, Any] | None,
    analyze: bool,
    can_use: bool,
    expectations: Expectations,
) -> QueryResult:
    query = HotQuery(name="assert_plan", sql=sql, expect=expectations)
    pickers = {k: ParamPicker(literal=v) for k, v in (params or {}).items()}
    try:
        options = PlanOptions(analyze=analyze, mode=CAN_USE if can_use else WILL_USE)
        result = explain_query(conn, QueryProfile(query, "default", pickers), options)
    except QueryFailed as exc:
        raise AssertionError(f"the query could not be explained: {exc}") from None
    failed = [c for c in result.checks if c.status == "fail"]
    if failed:
        lines = [f"{c.id}: {c.message}" for c in failed]
        plan = result.plan.summary() if result.plan else "none"
        raise AssertionError("\n".join([*lines, f"plan: {plan}"]))
    return result
