"""The generic plan, which prepared statements switch to after five executions: from
``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+, from ``PREPARE`` under ``plan_cache_mode =
force_generic_plan`` before."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count
from typing import Any

import psycopg
from psycopg import sql

from dbtune.db import connection_error_text
from dbtune.plan import Plan, PlanParseError, parse_plan
from dbtune.query.result import QueryFailed
from dbtune.sql.text import positional, servable
from dbtune.workload import HotQuery

GENERIC_PLAN_OPTION_VERSION = 160_000

Connection = psycopg.Connection[tuple[Any, ...]]

_statement_names = count(1)


def plan_of(row: tuple[Any, ...] | None) -> Plan:
    """The plan in EXPLAIN's one row, or the query's own failure."""
    if row is None:  # pragma: no cover - EXPLAIN always returns a row
        raise QueryFailed("EXPLAIN returned nothing")
    try:
        return parse_plan(row[0])
    except PlanParseError as exc:
        raise QueryFailed(f"unexpected EXPLAIN output: {exc}") from None


def explain_generic(
    conn: Connection, text: str, values: list[Any] | None, count: int, server_version: int
) -> Plan:
    """The generic plan of ``text`` (``$n`` placeholders): ``EXPLAIN (GENERIC_PLAN)`` on 16+;
    before, ``PREPARE`` under ``force_generic_plan`` and ``EXPLAIN EXECUTE`` with ``values``
    (NULLs when there are none: a generic plan does not depend on them). pg_stat_statements'
    ``EXTRACT($1 FROM ...)`` and ``INTERVAL $1`` are rebuilt as SQL the server parses."""
    text = servable(text)
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
    return plan_of(row)


def generic_plan(
    conn: Connection, query: HotQuery, params: Mapping[str, Any], server_version: int
) -> tuple[Plan | None, str | None]:
    """The generic plan, or why there is none. Runs in a savepoint: a failure is reported."""
    if not params:
        return None, "the query has no parameters"
    text, order = positional(query.sql)
    try:
        with conn.transaction():
            plan = explain_generic(
                conn, text, [params[p] for p in order], len(order), server_version
            )
    except psycopg.Error as exc:
        return None, connection_error_text(exc)
    return plan, None
