"""One results model for every tool, and the renderers people and CI systems read.

explain, doctor (and the tools to come) turn what they found into :class:`Outcome` records —
one per plan check of a query profile, or per doctor finding — grouped in :class:`Section`\\ s
(a query profile, a doctor module). Markdown, JUnit XML and the terminal table are rendered
here, once, so every tool reads the same way and a fix to one renderer fixes all of them. Each
tool keeps its own JSON shape (a documented machine format its users parse); it is built from
the same records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from xml.etree import ElementTree

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbtune.files.junit import xml_text

Status = Literal["pass", "fail", "skip", "error", "accepted"]
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
_STYLE = {"pass": "bold green", "fail": "bold red", "skip": "yellow", "error": "bold red",
          "accepted": "cyan"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """One verdict: what was checked, on what, the result, why, and the fix."""

    id: str
    status: Status
    subject: str
    message: str
    fix: str = ""


def worst(statuses: set[Status]) -> Status:
    """error over fail over accepted over pass; skips pass."""
    order: tuple[Status, ...] = ("error", "fail", "accepted")
    return next((s for s in order if s in statuses), "pass")


@dataclass(frozen=True, slots=True)
class Section:
    """Outcomes that belong together (a query profile, a doctor module) and their evidence."""

    name: str
    outcomes: tuple[Outcome, ...]
    evidence: str = ""  # one line shown with the section, e.g. the plan summary

    @property
    def status(self) -> Status:
        statuses = {o.status for o in self.outcomes}
        return "skip" if statuses == {"skip"} else worst(statuses)


@dataclass(frozen=True, slots=True)
class Report:
    """What one run of a tool found."""

    tool: str
    target: str
    sections: tuple[Section, ...]
    caption: str = ""  # how it was measured (e.g. explain's mode line)
    notes: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """The run's verdict: an accepted section passes the gate."""
        status = worst({s.status for s in self.sections})
        return "pass" if status == "accepted" else status

    @property
    def exit_code(self) -> int:
        return {"error": EXIT_ERROR, "fail": EXIT_FAILED}.get(self.status, EXIT_OK)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """A Markdown table, one row per outcome and one evidence row per section."""
    passed = sum(1 for s in report.sections if s.status in ("pass", "accepted"))
    skipped = sum(1 for s in report.sections if s.status == "skip")
    accepted = sum(1 for s in report.sections if s.status == "accepted")
    lines = [
        f"## dbtune {report.tool}: {report.status.upper()}",
        "",
        f"Target `{report.target}`" + (f"; {report.caption}." if report.caption else "."),
        "",
        "| subject | check | result | details | fix |",
        "|---|---|---|---|---|",
    ]
    for section in report.sections:
        for o in section.outcomes:
            fix = f"`{_cell(o.fix)}`" if o.fix else ""
            lines.append(
                f"| {_cell(o.subject)} | {o.id} | {o.status} | {_cell(o.message)} | {fix} |"
            )
        if section.evidence:
            lines.append(f"| {_cell(section.name)} | plan | | `{_cell(section.evidence)}` | |")
    lines += ["", *(f"Note: {note}" for note in report.notes)] if report.notes else []
    also = f", {skipped} skipped" if skipped else ""
    also += f" ({accepted} accepted: no index helps)" if accepted else ""
    lines += ["", f"{passed} of {len(report.sections)} pass{also}.", ""]
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    """JUnit XML: one testcase per outcome, one failure, error or skipped element each."""
    outcomes = [(s, o) for s in report.sections for o in s.outcomes]
    count = {status: sum(1 for _, o in outcomes if o.status == status) for status in _STYLE}
    suite = ElementTree.Element(
        "testsuite",
        name=f"dbtune {report.tool}",
        tests=str(len(outcomes)),
        failures=str(count["fail"]),
        errors=str(count["error"]),
        skipped=str(count["skip"]),
    )
    if report.properties:
        props = ElementTree.SubElement(suite, "properties")
        for name, value in report.properties.items():
            ElementTree.SubElement(props, "property", name=name, value=xml_text(value))
    for section, o in outcomes:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=xml_text(f"dbtune.{report.tool}.{section.name}"),
            name=xml_text(f"{o.subject} {o.id}" if o.subject != section.name else o.id),
        )
        text = o.message + (f"\nfix: {o.fix}" if o.fix else "")
        text += f"\nplan: {section.evidence}" if section.evidence else ""
        if o.status in ("fail", "error"):
            tag = "failure" if o.status == "fail" else "error"
            element = ElementTree.SubElement(case, tag, type=o.id, message=xml_text(o.message))
            element.text = xml_text(text)
        elif o.status == "skip":
            ElementTree.SubElement(case, "skipped", message=xml_text(o.message))
        if section.evidence:
            ElementTree.SubElement(case, "system-out").text = xml_text(f"plan: {section.evidence}")
    if report.notes:
        ElementTree.SubElement(suite, "system-out").text = xml_text("\n".join(report.notes))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _summary(section: Section) -> Text:
    """``4 pass`` or ``2 fail: no_sort, uses_index; 2 pass`` — the checks of one row."""
    text = Text()
    for status in ("error", "fail", "accepted", "skip", "pass"):
        ids = [o.id for o in section.outcomes if o.status == status]
        if not ids:
            continue
        if text:
            text.append("; ")
        text.append(f"{len(ids)} {status}", style=_STYLE[status])
        if status != "pass":
            text.append(": " + ", ".join(dict.fromkeys(ids)))
    return text


def stderr_console() -> Console:
    """Where the tools' progress and closing lines go (the report itself goes to stdout)."""
    return Console(stderr=True, highlight=False)


def render_table(report: Report, console: Console) -> None:
    """One row per section with its outcomes summarised, then the details of what failed."""
    table = Table(
        title=f"dbtune {report.tool}: {report.target}",
        title_justify="left",
        caption=report.caption or None,
        caption_justify="left",
    )
    table.add_column("subject", style="bold", overflow="fold")
    table.add_column("result")
    table.add_column("checks", overflow="fold")
    with_evidence = any(s.evidence for s in report.sections)
    if with_evidence:
        table.add_column("plan", overflow="fold", style="dim")
    for section in report.sections:
        status = section.status
        cells = [Text(section.name), Text(status.upper(), style=_STYLE[status]), _summary(section)]
        if with_evidence:
            cells.append(Text(section.evidence))
        table.add_row(*cells)
    console.print(table)
    _print_details(report, console)
    console.print(_verdict_line(report), soft_wrap=True)


def _print_details(report: Report, console: Console) -> None:
    """What failed, errored or was accepted, and why a wholly skipped section was; notes."""
    for section in report.sections:
        shown = [
            o
            for o in section.outcomes
            if o.status in ("fail", "error", "accepted") or section.status == "skip"
        ]
        if not shown:
            continue
        console.print(Text(section.name, style="bold"), soft_wrap=True)
        for o in shown:
            line = Text("  ").append(o.status.upper(), style=_STYLE[o.status])
            line.append(f" {o.id}: {o.message}")
            console.print(line, soft_wrap=True)
            if o.fix:
                console.print(Text(f"    fix: {o.fix}"), soft_wrap=True)
        if section.evidence:
            console.print(Text(f"  plan: {section.evidence}"), soft_wrap=True)
    for note in report.notes:
        console.print(Text("note", style="yellow").append(f": {note}", style=""), soft_wrap=True)


def _verdict_line(report: Report) -> Text:
    bad = [s.name for s in report.sections if s.status in ("fail", "error")]
    skipped = [s.name for s in report.sections if s.status == "skip"]
    accepted = [s.name for s in report.sections if s.status == "accepted"]
    # A section that could not judge is counted, never folded into "pass".
    also = f"; {len(skipped)} skipped: {', '.join(skipped)}" if skipped else ""
    if accepted:  # passes the gate, and says so: no index helps these
        also += f"; {len(accepted)} accepted (no index helps): {', '.join(accepted)}"
    if bad:
        verdict = Text(report.status.upper(), style="bold red")
        verdict.append(f": {len(bad)} of {len(report.sections)}: {', '.join(bad)}{also}", style="")
    elif skipped or accepted:
        verdict = Text("PASS", style="bold green")
        verdict.append(f": {len(report.sections) - len(skipped)} of {len(report.sections)} "
                       f"pass{also}", style="")  # fmt: skip
    else:
        verdict = Text("PASS", style="bold green")
        verdict.append(f": all {len(report.sections)} pass", style="")
    return verdict
