"""generic_plan: the plan a prepared statement switches to also uses the index.

Problem: drivers prepare statements (psycopg after five executions, asyncpg at once, SQLAlchemy
through them); after five executions PostgreSQL may switch to a *generic* plan built without
the parameter values, and on skewed data that plan can differ from the one EXPLAIN shows for
one value. Evidence: the plan from ``EXPLAIN (GENERIC_PLAN)`` (PostgreSQL 16+) or from
``PREPARE`` under ``plan_cache_mode = force_generic_plan`` fails the shape checks (index,
index-only, sort, seq scan) that the custom plan passes. Fix: an index that serves every value
of the parameter; or, for a few skewed values, ``plan_cache_mode = force_custom_plan`` for
that statement's role or session.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict, run_checks

ENABLED_BY = ("generic_plan",)
SHAPE_CHECKS = ("uses_index", "index_only", "no_sort", "no_seq_scan")


def check(ctx: CheckContext) -> Verdict | None:
    if ctx.generic is None:
        reason = ctx.generic_error or "the query has no parameters"
        return ("skip", f"no generic plan: {reason}")
    failed = [r for r in run_checks(ctx.with_plan(ctx.generic), SHAPE_CHECKS) if r.status == "fail"]
    if not failed:
        return ("pass", f"generic plan: {ctx.generic.summary()}")
    return (
        "fail",
        f"the generic plan (used by prepared statements after five executions) fails "
        f"{failed[0].id}: {failed[0].message}",
    )
