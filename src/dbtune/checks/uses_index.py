"""uses_index: the plan reads the index the workload names.

Problem: without its index a hot query reads the whole table (Seq Scan) or an index that
returns far more rows than it keeps. Evidence: no plan node has ``Index Name`` equal to the
expected index. Fix: create the index (``alembic upgrade head``); if it exists, check that it
is valid (``pg_index.indisvalid``), that the query's WHERE uses its leading column without a
function or cast around it, and that the table has been ANALYZEd.
"""

from __future__ import annotations

from dbtune.checks import CheckResult
from dbtune.explain.plan import Plan
from dbtune.workload import Expectations

ID = "uses_index"


def check(plan: Plan, expect: Expectations) -> CheckResult | None:
    if expect.index is None:
        return None
    used = plan.index_names()
    if expect.index in used:
        node = next(n for n in plan.nodes() if n.index_name == expect.index)
        return CheckResult(ID, "pass", f"{node.node_type} using {expect.index}")
    did = ", ".join(n.label() for n in plan.nodes() if n.relation_name) or plan.summary()
    return CheckResult(
        ID,
        "fail",
        f"expected index {expect.index}; the plan used {did}. Fix: create it "
        "(alembic upgrade head), check it is valid, and that the WHERE clause uses its "
        "leading column as is",
    )
