"""Render an explain report for people (a rich table) and for machines (JSON).

The table says, per query, each check's verdict and the plan in one line, so a failing CI log
shows what the plan did without a second run; the JSON carries the same facts in a stable shape.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbtune.explain.runner import ExplainReport, QueryResult

_STATUS_STYLE = {"pass": "bold green", "fail": "bold red"}


def _plan_summary(result: QueryResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "nodes": plan.node_types(),
        "indexes": plan.index_names(),
        "buffers": plan.root.buffers,
        "heap_fetches": plan.heap_fetches,
        "rows_removed_by_filter": plan.rows_removed_by_filter,
        "execution_time_ms": plan.execution_time_ms,
        "text": plan.summary(),
    }


def to_dict(report: ExplainReport) -> dict[str, Any]:
    """The report as one JSON-ready object with a ``queries`` list."""
    return {
        "target": report.target,
        "workload": report.workload,
        "mode": report.mode,
        "analyze": report.analyze,
        "status": "pass" if report.passed else "fail",
        "queries": [
            {
                "name": r.query.name,
                "status": "pass" if r.passed else "fail",
                "params": {k: _jsonable(v) for k, v in r.params.items()},
                "checks": [
                    {"id": c.id, "status": c.status, "message": c.message} for c in r.checks
                ],
                "plan": _plan_summary(r),
            }
            for r in report.results
        ],
    }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def render_json(report: ExplainReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def render_table(report: ExplainReport, console: Console) -> None:
    """Print the report as a table, one row per check, and a closing verdict line."""
    table = Table(
        title=f"dbtune explain: {report.target} ({report.mode}, "
        f"{'EXPLAIN ANALYZE' if report.analyze else 'plans only'})",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("query", style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    for result in report.results:
        for i, check in enumerate(result.checks):
            table.add_row(
                result.query.name if i == 0 else "",
                check.id,
                Text(check.status.upper(), style=_STATUS_STYLE[check.status]),
                check.message,
            )
        timing = result.plan.execution_time_ms
        table.add_row(
            "" if result.checks else result.query.name,
            "plan",
            "",
            result.plan.summary() + (f" ({timing:.2f} ms)" if timing is not None else ""),
            style="dim",
        )
    console.print(table)
    failed = [r.query.name for r in report.results if not r.passed]
    if failed:
        console.print(
            f"[bold red]FAIL[/]: {len(failed)} of {len(report.results)} queries "
            f"regressed: {', '.join(failed)}"
        )
    else:
        console.print(f"[bold green]PASS[/]: all {len(report.results)} queries use their indexes")
