"""heap_fetches: an index-only scan really stays in the index (Heap Fetches <= N).

Problem: an Index Only Scan visits the table for every row on a page not marked all-visible in
the visibility map; after a bulk load, or when autovacuum lags behind the writes, it is an
index scan in disguise. Evidence: ``Heap Fetches`` above the limit (needs EXPLAIN ANALYZE).
Fix: ``VACUUM (ANALYZE)`` the table, and make autovacuum keep up on it
(``autovacuum_vacuum_insert_scale_factor``, ``autovacuum_vacuum_scale_factor``).
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict

ENABLED_BY = ("max_heap_fetches",)
MEASURED = "heap fetches are measured only with EXPLAIN ANALYZE"


def check(ctx: CheckContext) -> Verdict | None:
    limit = ctx.expect.max_heap_fetches or 0
    fetches = ctx.plan.heap_fetches
    if fetches is None:
        return (
            "fail",
            f"expected at most {limit} heap fetches from an Index "
            "Only Scan; the plan has no Index Only Scan",
        )
    if fetches <= limit:
        return ("pass", f"{fetches} heap fetches (limit {limit})")
    return (
        "fail",
        f"expected at most {limit} heap fetches; the Index Only Scan made {fetches}. Likely "
        "fix: VACUUM (ANALYZE) the table so the visibility map is set, and tune autovacuum",
    )
