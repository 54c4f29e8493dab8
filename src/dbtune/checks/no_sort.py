"""no_sort: the index provides the order, so the plan has no Sort node.

Problem: "latest N rows" queries are cheap only when the index returns rows already in
ORDER BY order and the scan stops after N; a Sort must read every matching row first.
Evidence: a ``Sort`` or ``Incremental Sort`` node in the plan. Fix: make the index key match
the ORDER BY (columns, direction, and the equality columns of the WHERE before them), e.g.
``(user_id, created_at DESC)`` for ``WHERE user_id = $1 ORDER BY created_at DESC``.
"""

from __future__ import annotations

from dbtune.checks import CheckResult
from dbtune.explain.plan import Plan
from dbtune.workload import Expectations

ID = "no_sort"
SORT_NODES = frozenset({"Sort", "Incremental Sort"})


def check(plan: Plan, expect: Expectations) -> CheckResult | None:
    if not expect.no_sort:
        return None
    sorts = [n for n in plan.nodes() if n.node_type in SORT_NODES]
    if not sorts:
        return CheckResult(ID, "pass", "no Sort: the index gives the order")
    keys = ", ".join(sorts[0].sort_key) or "?"
    return CheckResult(
        ID,
        "fail",
        f"expected no Sort; the plan sorts by {keys} ({sorts[0].node_type}). Fix: an index "
        "whose key matches the WHERE equality columns followed by the ORDER BY columns",
    )
