"""no_sort: the index provides the order, so the plan has no Sort node.

Problem: "latest N rows" queries are cheap only when the index returns rows already in ORDER BY
order and the scan stops after N; a Sort must read every matching row first. Evidence: a
``Sort`` or ``Incremental Sort`` node in the plan. Fix: make the index key match the ORDER BY
(columns and direction, after the WHERE's equality columns), e.g. ``(user_id, created_at
DESC)`` for ``WHERE user_id = $1 ORDER BY created_at DESC``.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict

ENABLED_BY = ("no_sort",)
SORT_NODES = frozenset({"Sort", "Incremental Sort"})


def check(ctx: CheckContext) -> Verdict | None:
    sorts = [n for n in ctx.plan.nodes() if n.node_type in SORT_NODES]
    if not sorts:
        return ("pass", "no Sort: the index gives the order")
    keys = ", ".join(sorts[0].sort_key) or "?"
    return (
        "fail",
        f"expected no Sort; the plan sorts by {keys} ({sorts[0].node_type}). Likely fix: an "
        "index whose key is the WHERE's equality columns followed by the ORDER BY columns, "
        "in the same direction",
    )
