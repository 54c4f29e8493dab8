"""filter_ratio: the scan keeps most of the rows it reads.

Problem: an index that matches the leading WHERE column but not the others makes the scan read
rows only to throw them away; the query slows down as the discarded rows grow. Evidence:
``Rows Removed by Filter`` divided by all rows the scans read is above the limit (needs EXPLAIN
ANALYZE). Fix: put the filtered columns into the index key (equality columns first), or make a
partial index for a constant condition (``WHERE active``).
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict

ENABLED_BY = ("max_filter_ratio",)
MEASURED = "rows removed by filter are measured only with ANALYZE"


def check(ctx: CheckContext) -> Verdict | None:
    limit = ctx.expect.max_filter_ratio or 0.0
    removed = ctx.plan.rows_removed_by_filter or 0.0
    kept = sum(
        (n.actual_rows or 0.0) * (n.actual_loops or 1.0)
        for n in ctx.plan.nodes()
        if n.relation_name
    )
    read = removed + kept
    ratio = removed / read if read else 0.0
    if ratio <= limit:
        return ("pass", f"filter removed {ratio:.0%} of the rows read (limit {limit:.0%})")
    node = next((n for n in ctx.plan.nodes() if n.rows_removed_by_filter), None)
    where = f" by {node.filter}" if node and node.filter else ""
    return (
        "fail",
        f"expected at most {limit:.0%} of the rows read to be filtered out; {removed:,.0f} of "
        f"{read:,.0f} ({ratio:.0%}) were removed{where}. Likely fix: put the filtered columns "
        "into the index key, or use a partial index for a constant condition",
    )
