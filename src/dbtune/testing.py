"""Assert query plans in your own tests, with the messages ``dbtune explain`` prints.

::

    from dbtune.testing import assert_plan

    def test_inbox_uses_its_index(db_conn):
        assert_plan(
            db_conn,
            "SELECT id FROM messages WHERE user_id = %(u)s ORDER BY created_at DESC LIMIT 20",
            {"u": 42}, index="ix_messages_user_id_created_at", no_sort=True,
        )

The query runs under EXPLAIN ANALYZE in a rolled-back read-only transaction on ``conn`` (a
psycopg connection that is not inside a transaction); ``can_use=True`` switches off sequential
scans, bitmap scans and sorts, for small test databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from dbtune.explain.runner import CAN_USE, WILL_USE, QueryFailed, QueryResult, explain_query
from dbtune.workload import Expectations, HotQuery, ParamPicker

__all__ = ["assert_plan"]


def assert_plan(
    conn: psycopg.Connection[Any],
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    analyze: bool = True,
    can_use: bool = False,
    **expect: Any,
) -> QueryResult:
    """Raise ``AssertionError`` listing every failed check; return the result otherwise.

    ``expect`` takes the workload's ``expect`` keys (:class:`~dbtune.workload.Expectations`):
    ``index``, ``index_only``, ``max_heap_fetches``, ``no_sort``, ``no_seq_scan``,
    ``max_filter_ratio``, ``max_buffers``, ``generic_plan``; a misspelt one is a ``TypeError``.
    """
    try:
        expectations = Expectations.from_mapping(expect)
    except ValueError as exc:
        raise TypeError(f"assert_plan: {exc}") from None
    query = HotQuery(name="assert_plan", sql=sql, expect=expectations)
    pickers = {k: ParamPicker(literal=v) for k, v in (params or {}).items()}
    try:
        result = explain_query(
            conn,
            query,
            profile="default",
            pickers=pickers,
            analyze=analyze,
            mode=CAN_USE if can_use else WILL_USE,
        )
    except QueryFailed as exc:
        raise AssertionError(f"the query could not be explained: {exc}") from None
    failed = [c for c in result.checks if c.status == "fail"]
    if failed:
        lines = [f"{c.id}: {c.message}" for c in failed]
        plan = result.plan.summary() if result.plan else "none"
        raise AssertionError("\n".join([*lines, f"plan: {plan}"]))
    return result
