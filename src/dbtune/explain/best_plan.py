"""The verdict for a statement no index helps: *accepted*, with the reason (SPEC §11).

A statement that reads most of its table (a count of a parent's earlier children, a history
whose range covers every row) fails ``no_seq_scan`` whatever index exists: the planner keeps the
Seq Scan because it is the best plan. Reported as a failure, it made a gate nothing could turn
green, and explain printed an index as the fix that its own what-if refuted. So when the only
failing check is ``no_seq_scan`` and either the advisor's what-if planned the query with its
suggested index and the Seq Scan stayed (or, measured, the index made it slower), or nothing
of the query is a condition or order an index could serve, the check is *accepted*: it passes
the gate and says why, naming how much of the table the scan read. ``expect.strict = true``
keeps it a failure. Without a what-if the advice is not verified and the failure stands:
``--what-if`` settles it.
"""

from __future__ import annotations

from dataclasses import replace

from dbtune.checks import CheckResult
from dbtune.query.advice import Advice
from dbtune.query.result import QueryResult

ACCEPTABLE = frozenset({"no_seq_scan"})
"""The checks a statement can fail because its best plan reads the table whole."""


def _read_share(result: QueryResult) -> str:
    """``reads 94 % of events (56,400 of 60,000 rows)``, from the plan's Seq Scan, or ''."""
    if result.plan is None or result.facts is None:
        return ""
    for node in result.plan.nodes():
        table = result.facts.relations.get(node.relation_name or "")
        if node.node_type != "Seq Scan" or table is None or table.tuples <= 0:
            continue
        if node.actual_rows is not None:
            rows = node.actual_rows * (node.actual_loops or 1)
        else:
            rows = node.plan_rows
        share = min(rows / table.tuples, 1.0)
        return f"reads {share:.0%} of {table.name} ({rows:,.0f} of {table.tuples:,.0f} rows): "
    return ""


def _why(advice: Advice) -> str | None:
    what_if = advice.what_if
    if (
        advice.suggestion is not None
        and what_if is not None
        and not what_if.passes
        and set(what_if.after.failing) <= ACCEPTABLE
    ):
        if what_if.verdict == "slower":
            return (
                f"the index that would serve it ({advice.suggestion.name}) makes it slower: "
                f"{what_if.before.figures()} -> {what_if.after.figures()} (build what-if, "
                "medians)"
            )
        return (
            f"no index tried helps (with {advice.suggestion.name}, the {what_if.engine} "
            f"what-if keeps {what_if.after.plan})"
        )
    if advice.suggestion is None and advice.nothing_to_serve:
        return "nothing of the query is a condition or an order an index could serve"
    return None


def accept_if_no_index_helps(result: QueryResult, advice: Advice) -> QueryResult:
    """``result`` with ``advice``, its failing checks accepted when no index helps."""
    result = replace(result, advice=advice)
    failing = {c.id for c in result.checks if c.status == "fail"}
    if result.query.expect.strict or not failing or not failing <= ACCEPTABLE:
        return result
    why = _why(advice)
    if why is None:
        return result
    verdict = (
        f"{_read_share(result)}a sequential scan is the best plan here; {why}. Accepted "
        "(expect.strict = true makes it a failure)"
    )
    checks = tuple(
        CheckResult(c.id, "accepted", verdict) if c.status == "fail" else c for c in result.checks
    )
    return replace(result, checks=checks)
