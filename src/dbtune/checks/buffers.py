"""buffers: the query touches at most N shared buffers.

Problem: latency follows the pages a query touches; a plan that still uses the right index can
read ten times the pages after a change (a lost INCLUDE column, TOASTed values, bloat).
Evidence: the root node's ``Shared Hit Blocks + Shared Read Blocks`` (cumulative over the plan)
above the limit (needs EXPLAIN (ANALYZE, BUFFERS)). Fix: select fewer or narrower columns,
INCLUDE the selected columns, or REINDEX / VACUUM a bloated index or table.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict

ENABLED_BY = ("max_buffers",)
MEASURED = "buffers are measured only with EXPLAIN ANALYZE"


def check(ctx: CheckContext) -> Verdict | None:
    limit = ctx.expect.max_buffers or 0
    used = ctx.plan.root.buffers
    if used is None:  # EXPLAIN ANALYZE without BUFFERS
        return ("skip", MEASURED)
    if used <= limit:
        return ("pass", f"{used} shared buffers (limit {limit})")
    return (
        "fail",
        f"expected at most {limit} shared buffers; the query touched {used}. Likely fix: "
        "select fewer or narrower columns, INCLUDE them in the index, or REINDEX/VACUUM",
    )
