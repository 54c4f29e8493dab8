"""Render an explain report for people (a rich table, Markdown) and for machines (JSON, JUnit).

Every format carries the same facts: per query and profile, each check's verdict and message
and a summary of the plan, so a failing CI log shows what the plan did without a second run.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbtune.explain.runner import CAN_USE, CAN_USE_SETTINGS, ExplainReport, QueryResult
from dbtune.junit import xml_text

_STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "skip": "yellow", "error": "bold red"}


def _plan_text(result: QueryResult) -> str:
    return result.plan.summary() if result.plan else f"error: {result.error}"


def plan_summary(result: QueryResult) -> dict[str, Any] | None:
    plan = result.plan
    if plan is None:
        return None
    return {
        "nodes": plan.node_types(),
        "indexes": plan.index_names(),
        "buffers": plan.root.buffers,
        "heap_fetches": plan.heap_fetches,
        "rows_removed_by_filter": plan.rows_removed_by_filter,
        "execution_time_ms": plan.execution_time_ms,
        "text": plan.summary(),
        "generic": result.generic.summary() if result.generic else None,
    }


def mode_line(report: ExplainReport) -> str:
    """Which mode the plans were made in, and what that proves."""
    how = "EXPLAIN ANALYZE" if report.analyze else "plans only, not executed"
    if report.mode == CAN_USE:
        off = ", ".join(f"{s}=off" for s in CAN_USE_SETTINGS)
        return (
            f"can-use mode ({off}): proves each index CAN serve its query; not that the "
            f"planner will choose it at production volume; {how}"
        )
    return f"will-use mode (the server's planner settings); {how}"


def _status(result: QueryResult) -> str:
    return result.status


def _query_dict(r: QueryResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": r.query.name,
        "profile": r.profile,
        "status": _status(r),
        "params": {k: _jsonable(v) for k, v in r.params.items()},
        "checks": [{"id": c.id, "status": c.status, "message": c.message} for c in r.checks],
        "plan": plan_summary(r),
    }
    if r.error is not None:
        entry["error"] = r.error
    if r.notes:
        entry["notes"] = list(r.notes)
    return entry


def _verdict(report: ExplainReport) -> str:
    if report.errored:
        return "error"
    return "pass" if report.passed else "fail"


def to_dict(report: ExplainReport) -> dict[str, Any]:
    """The report as one JSON-ready object with a ``queries`` list."""
    return {
        "target": report.target,
        "workload": report.workload,
        "mode": report.mode,
        "mode_note": mode_line(report),
        "analyze": report.analyze,
        "status": _verdict(report),
        "queries": [_query_dict(r) for r in report.results],
    }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def render_json(report: ExplainReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: ExplainReport) -> str:
    failed = [r for r in report.results if not r.passed]
    lines = [
        f"## dbtune explain: {_verdict(report).upper()}",
        "",
        f"Target `{report.target}`, workload `{report.workload}`; {mode_line(report)}.",
        "",
        "| query | profile | check | result | details |",
        "|---|---|---|---|---|",
    ]
    for r in report.results:
        for c in r.checks:
            lines.append(
                f"| {r.query.name} | {r.profile} | {c.id} | {c.status} | {_cell(c.message)} |"
            )
        if r.error is not None:
            lines.append(f"| {r.query.name} | {r.profile} | query | error | {_cell(r.error)} |")
        else:
            lines.append(f"| {r.query.name} | {r.profile} | plan | | `{_cell(_plan_text(r))}` |")
    lines += [
        "",
        f"{len(report.results) - len(failed)} of {len(report.results)} query profiles pass.",
        "",
    ]
    return "\n".join(lines)


def render_junit(report: ExplainReport) -> str:
    """JUnit XML: one testcase per query profile, a failure element per failed check."""
    suite = ElementTree.Element(
        "testsuite",
        name="dbtune explain",
        tests=str(len(report.results)),
        failures=str(sum(1 for r in report.results if r.status == "fail")),
        errors=str(sum(1 for r in report.results if r.status == "error")),
        skipped="0",
    )
    ElementTree.SubElement(
        ElementTree.SubElement(suite, "properties"),
        "property",
        name="mode",
        value=mode_line(report),
    )
    for r in report.results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=xml_text(f"dbtune.{r.query.name}"),
            name=xml_text(f"{r.query.name}[{r.profile}]"),
        )
        if r.error is not None:
            error = ElementTree.SubElement(case, "error", type="query", message=xml_text(r.error))
            error.text = xml_text(r.error)
        for c in r.checks:
            if c.status == "fail":
                failure = ElementTree.SubElement(
                    case, "failure", type=c.id, message=xml_text(c.message)
                )
                failure.text = xml_text(f"{c.message}\nplan: {_plan_text(r)}")
        ElementTree.SubElement(case, "system-out").text = xml_text(f"plan: {_plan_text(r)}")
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def render_table(report: ExplainReport, console: Console) -> None:
    """Print the report as a table, one row per check, and a closing verdict line."""
    table = Table(
        title=f"dbtune explain: {report.target}",
        title_justify="left",
        caption=mode_line(report),
        caption_justify="left",
        show_lines=True,
    )
    table.add_column("query", style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    for result in report.results:
        name = (
            result.query.name
            if result.profile == "default"
            else f"{result.query.name}\n[{result.profile}]"
        )
        for i, check in enumerate(result.checks):
            table.add_row(
                name if i == 0 else "",
                check.id,
                Text(check.status.upper(), style=_STATUS_STYLE[check.status]),
                check.message,
            )
        if result.plan is None:
            table.add_row(
                name, "query", Text("ERROR", style=_STATUS_STYLE["error"]), result.error or ""
            )
            continue
        timing = result.plan.execution_time_ms
        table.add_row(
            "" if result.checks else name,
            "plan",
            "",
            result.plan.summary() + (f" ({timing:.2f} ms)" if timing is not None else ""),
            style="dim",
        )
    console.print(table)
    errors = [f"{r.query.name}[{r.profile}]" for r in report.results if r.error is not None]
    failed = [f"{r.query.name}[{r.profile}]" for r in report.results if r.status == "fail"]
    if errors:
        console.print(
            f"[bold red]ERROR[/]: {len(errors)} of {len(report.results)} query profiles could "
            f"not be checked: {', '.join(errors)}"
        )
    if failed:
        console.print(
            f"[bold red]FAIL[/]: {len(failed)} of {len(report.results)} query "
            f"profiles regressed: {', '.join(failed)}"
        )
    elif not errors:
        console.print(
            f"[bold green]PASS[/]: all {len(report.results)} query profiles meet their expectations"
        )
