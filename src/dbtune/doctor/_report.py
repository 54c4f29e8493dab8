"""Render a doctor report in the formats of ``dbtune explain``: table, JSON, Markdown, JUnit."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbtune.doctor import DoctorReport
from dbtune.junit import xml_text


def to_dict(report: DoctorReport) -> dict[str, Any]:
    return {
        "target": report.target,
        "status": "pass" if report.passed else "fail",
        **({"notes": list(report.notes)} if report.notes else {}),
        "checks": [
            {
                "id": o.id,
                "status": o.status,
                "findings": [
                    {"subject": f.subject, "message": f.message, "fix": f.fix} for f in o.findings
                ],
                **({"skipped": o.skipped} if o.skipped is not None else {}),
            }
            for o in report.outcomes
        ],
    }


def render_json(report: DoctorReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def render_markdown(report: DoctorReport) -> str:
    lines = [
        f"## dbtune doctor: {'PASS' if report.passed else 'FAIL'}",
        "",
        f"Target `{report.target}`.",
        "",
        "| check | result | finding | fix |",
        "|---|---|---|---|",
    ]
    for o in report.outcomes:
        if o.skipped is not None:
            reason = o.skipped.replace("|", "\\|")
            lines.append(f"| {o.id} | skipped | {reason} | |")
        elif not o.findings:
            lines.append(f"| {o.id} | pass | | |")
        for f in o.findings:
            message, fix = f.message.replace("|", "\\|"), f.fix.replace("|", "\\|")
            lines.append(f"| {o.id} | fail | {message} | `{fix}` |")
    if report.notes:
        lines += ["", *(f"Note: {note}" for note in report.notes)]
    lines.append("")
    return "\n".join(lines)


def render_junit(report: DoctorReport) -> str:
    suite = ElementTree.Element(
        "testsuite",
        name="dbtune doctor",
        tests=str(len(report.outcomes)),
        failures=str(sum(1 for o in report.outcomes if o.findings)),
        errors="0",
        skipped=str(sum(1 for o in report.outcomes if o.skipped is not None)),
    )
    for o in report.outcomes:
        case = ElementTree.SubElement(suite, "testcase", classname="dbtune.doctor", name=o.id)
        if o.skipped is not None:
            ElementTree.SubElement(case, "skipped", message=xml_text(o.skipped))
        for f in o.findings:
            failure = ElementTree.SubElement(
                case, "failure", type=o.id, message=xml_text(f.message)
            )
            failure.text = xml_text(f"{f.message}\nfix: {f.fix}")
    if report.notes:
        ElementTree.SubElement(suite, "system-out").text = xml_text("\n".join(report.notes))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def render_table(report: DoctorReport, console: Console) -> None:
    table = Table(title=f"dbtune doctor: {report.target}", title_justify="left", show_lines=True)
    table.add_column("check", style="bold")
    table.add_column("result")
    table.add_column("finding and fix", overflow="fold")
    for o in report.outcomes:
        if o.skipped is not None:
            table.add_row(o.id, Text("SKIPPED", style="yellow"), o.skipped)
        elif not o.findings:
            table.add_row(o.id, Text("PASS", style="bold green"), "")
        for i, f in enumerate(o.findings):
            table.add_row(
                o.id if i == 0 else "", Text("FAIL", style="bold red"), f"{f.message}\nfix: {f.fix}"
            )
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note[/]: {note}", soft_wrap=True)
    count = sum(len(o.findings) for o in report.outcomes)
    if count:
        console.print(f"[bold red]FAIL[/]: {count} finding(s)")
    else:
        console.print("[bold green]PASS[/]: no findings")
