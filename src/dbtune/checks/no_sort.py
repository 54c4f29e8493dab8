"""no_sort: the index provides the order, so the plan has no Sort that reads every match.

Problem: "latest N rows" queries are cheap only when the index returns rows already in ORDER BY
order and the scan stops after N; a Sort must read every matching row first. Evidence: a
``Sort`` node, or an ``Incremental Sort`` whose presorted keys do not cover the query's ORDER
BY. An Incremental Sort whose presorted keys already give the ORDER BY (``SELECT DISTINCT``
over an index that returns ``created DESC, id`` sorts only within rows that tie on every
ORDER BY key) passes, with a note. Fix: make the index key match the ORDER BY (columns and
direction, after the WHERE's equality columns), e.g. ``(user_id, created_at DESC)`` for
``WHERE user_id = $1 ORDER BY created_at DESC``.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict
from dbtune.plan import PlanNode

ENABLED_BY = ("no_sort",)
SORT_NODES = frozenset({"Sort", "Incremental Sort"})


def _presorted(node: PlanNode, order_by_count: int) -> bool:
    """An Incremental Sort whose input already comes in the query's ORDER BY order: the
    planner puts the ORDER BY keys first in the Sort Key, so presorted keys at least as many
    as the ORDER BY items mean the index gives all of them (EXPLAIN prints presorted keys
    without their direction, so they are counted, not compared)."""
    presorted = node.raw.get("Presorted Key") or ()
    return (
        node.node_type == "Incremental Sort"
        and order_by_count > 0
        and len(presorted) >= order_by_count
    )


def check(ctx: CheckContext) -> Verdict | None:
    sorts = [n for n in ctx.plan.nodes() if n.node_type in SORT_NODES]
    real = [n for n in sorts if not _presorted(n, ctx.order_by_count)]
    if not sorts:
        return ("pass", "no Sort: the index gives the order")
    if not real:
        keys = ", ".join(sorts[0].raw.get("Presorted Key") or ())
        return (
            "pass",
            f"the index gives the ORDER BY ({keys}); the Incremental Sort only orders rows "
            "that tie on every ORDER BY key (e.g. for DISTINCT), so it never reads ahead",
        )
    keys = ", ".join(real[0].sort_key) or "?"
    return (
        "fail",
        f"expected no Sort; the plan sorts by {keys} ({real[0].node_type}). Likely fix: an "
        "index whose key is the WHERE's equality columns followed by the ORDER BY columns, "
        "in the same direction",
    )
