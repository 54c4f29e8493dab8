"""Likely fixes, read off the plan, that several checks share."""

from __future__ import annotations

import re

from dbtune.plan import Plan

_CAST_ON_COLUMN = re.compile(r"\((\w+)\)::(date|text|timestamp\w*)")
_FUNCTION_ON_COLUMN = re.compile(r"\b(date_trunc|lower|upper|date|coalesce)\(")


def likely_fix(plan: Plan) -> str:
    """The most probable reason an index was not used, from the filters in the plan."""
    for node in plan.nodes():
        text = node.filter or ""
        cast = _CAST_ON_COLUMN.search(text)
        if cast:
            column = cast.group(1)
            return (
                f"the filter on {column}::{cast.group(2)} is not sargable; compare the column "
                f"itself with a range, e.g. {column} >= day AND {column} < day + 1"
            )
        if _FUNCTION_ON_COLUMN.search(text):
            return (
                f"the filter {text} wraps a column in a function; compare the bare column, "
                "or index the expression"
            )
    return (
        "create the index (alembic upgrade head), check that it is valid, that the WHERE "
        "clause uses its leading column as is, and that the table has been ANALYZEd"
    )


def scans(plan: Plan) -> str:
    """The plan's scan nodes, for 'what the plan did instead'."""
    labels = [n.label() for n in plan.nodes() if n.relation_name]
    return ", ".join(labels) or plan.summary()
