"""no_seq_scan: no Seq Scan on a big table.

Problem: a sequential scan reads every row of the table; on a table of millions of rows a hot
query that does it is a regression waiting for traffic. Evidence: a ``Seq Scan`` node on a
table, partition or materialized view the planner estimates (``pg_class.reltuples``) above
10,000 rows — on by default, or on any table when the workload sets ``expect.no_seq_scan =
true``. A never-analyzed table (``reltuples = -1``) is sized by the rows the plan read, and the
message says so; a sequence is not a table and never fails; a scanned partition is named with
its partitioned table. Fix: the index the query needs, a sargable WHERE (no function or cast
around the indexed column), and fresh statistics (``ANALYZE``).

Where no index helps — the advisor's what-if keeps the Seq Scan (a statement that reads most of
its table), or nothing of the query is a condition or order an index can serve — the failure
is *accepted*: reported with the reason, and it passes the gate. ``expect.strict = true`` keeps
it a failure.
"""

from __future__ import annotations

from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD, CheckContext, Verdict
from dbtune.checks._hints import likely_fix

ENABLED_BY = ("no_seq_scan", "strict")  # the first turns it on; strict: never accepted
ENABLE_NOTE = (
    f"on by default for tables above {SEQ_SCAN_ROW_THRESHOLD:,} rows "
    "(`[tool.dbtune] seq_scan_rows`); never on tables in `allow_seq_scan`"
)


def check(ctx: CheckContext) -> Verdict | None:
    setting = ctx.expect.no_seq_scan
    allowed = ctx.allow_seq_scan
    seq = [
        n
        for n in ctx.plan.nodes()
        if n.node_type == "Seq Scan" and n.relation_name and n.relation_name not in ctx.not_tables
        and n.relation_name not in allowed and ctx.parents.get(n.relation_name) not in allowed
    ]  # fmt: skip
    if setting is None:  # default: only tables above the threshold matter
        big = {t for t, rows in ctx.table_rows.items() if rows > ctx.seq_scan_rows}
        touched = {n.relation_name for n in ctx.plan.nodes() if n.relation_name}
        if not big & touched:
            return None
        seq = [n for n in seq if n.relation_name in big]
    if not seq:
        return ("pass", _why_no_finding(ctx))
    table = seq[0].relation_name or "?"
    parent = ctx.parents.get(table)
    named = f"{table} (a partition of {parent})" if parent else table
    rows = ctx.table_rows.get(table)
    if table in ctx.unanalyzed:
        size = (
            f" (about {rows:,.0f} rows by the plan; it has never been analyzed: "
            f"ANALYZE {parent or table})"
        )
    else:
        size = f" (about {rows:,.0f} rows)" if rows is not None else ""
    return (
        "fail",
        f"expected no Seq Scan; the plan scans all of {named}{size}. Likely fix: {likely_fix(ctx)}",
    )


def _why_no_finding(ctx: CheckContext) -> str:
    """The pass message, true to the plan: a Seq Scan the check let through is named, with why."""
    scanned = sorted({
        n.relation_name for n in ctx.plan.nodes() if n.node_type == "Seq Scan" and n.relation_name
    })  # fmt: skip
    if not scanned:
        return "no Seq Scan"
    reasons = []
    for table in scanned:
        rows = ctx.table_rows.get(table)
        if table in ctx.not_tables:
            why = "not a table"
        elif table in ctx.allow_seq_scan or ctx.parents.get(table) in ctx.allow_seq_scan:
            why = "allowed to be read whole"
        elif rows is not None:
            why = f"about {rows:,.0f} rows, under the {ctx.seq_scan_rows:,.0f}-row threshold"
        else:
            why = "under the row threshold"
        reasons.append(f"{table} ({why})")
    return "Seq Scan only where it is accepted: " + ", ".join(reasons)
