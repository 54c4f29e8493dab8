"""Likely fixes that several checks share."""

from __future__ import annotations

from dbtune.checks import CheckContext
from dbtune.plan import Plan

GENERIC_FIX = (
    "an index whose key starts with the WHERE's equality columns, valid, with the WHERE "
    "using its columns as they are, and the table ANALYZEd"
)


def likely_fix(ctx: CheckContext) -> str:
    """The conditions no index can serve (decided from the query and the catalog by the
    runner), or the general advice when every condition is sargable."""
    return "; ".join(ctx.hints) if ctx.hints else GENERIC_FIX


def scans(plan: Plan) -> str:
    """The plan's scan nodes, for 'what the plan did instead'."""
    labels = [n.label() for n in plan.nodes() if n.relation_name]
    return ", ".join(labels) or plan.summary()
