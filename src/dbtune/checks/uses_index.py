"""uses_index: the plan reads the index the workload names.

Problem: without its index a hot query reads the whole table (Seq Scan) or an index that
returns far more rows than it keeps. Evidence: no plan node has ``Index Name`` equal to the
expected index. Fix: create the index (``alembic upgrade head``); if it exists, check that it
is valid (``pg_index.indisvalid``), that the query's WHERE uses its leading column without a
function or cast around it (``created_at::date = $1`` cannot use an index on created_at; a
range can), and that the table has been ANALYZEd.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict
from dbtune.checks._hints import likely_fix, scans

ENABLED_BY = ("index",)


def check(ctx: CheckContext) -> Verdict | None:
    expected = ctx.expect.index
    node = next((n for n in ctx.plan.nodes() if n.index_name == expected), None)
    if node is not None:
        return ("pass", f"{node.node_type} using {expected}")
    if ctx.missing_index:
        return (
            "fail",
            f"expected index {expected}, which does not exist in this database (create it, "
            f"or fix the name in the workload); the plan used {scans(ctx.plan)}. "
            f"Likely fix: {likely_fix(ctx)}",
        )
    return (
        "fail",
        f"expected index {expected}; the plan used {scans(ctx.plan)}. "
        f"Likely fix: {likely_fix(ctx)}",
    )
