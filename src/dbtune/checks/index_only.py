"""index_only: the plan answers from the index alone (Index Only Scan).

Problem: a listing that needs only a few narrow columns still visits the table for every row
when one of them is missing from the index. Evidence: the expected index (or, with no index
named, any index) is read by an ``Index Scan``, ``Bitmap Heap Scan`` or another node rather
than an ``Index Only Scan``. Fix: add the missing columns to the index's INCLUDE list (bounded
columns only: see the 2704-byte rule), or select fewer columns.
"""

from __future__ import annotations

from dbtune.checks import CheckContext, Verdict
from dbtune.checks._hints import scans

ENABLED_BY = ("index_only",)


def check(ctx: CheckContext) -> Verdict | None:
    wanted = ctx.expect.index
    only = [
        n
        for n in ctx.plan.nodes()
        if n.node_type == "Index Only Scan" and (wanted is None or n.index_name == wanted)
    ]
    if only:
        return ("pass", f"Index Only Scan using {only[0].index_name}")
    target = f"of {wanted}" if wanted else ""
    return (
        "fail",
        f"expected an Index Only Scan {target}; the plan used {scans(ctx.plan)}. Likely fix: "
        "INCLUDE every selected column in the index (bounded columns only), or select fewer",
    )
