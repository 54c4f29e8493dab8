"""A doctor report as the shared results model (Markdown, JUnit, table) and as JSON.

JSON keeps doctor's own shape (``checks``, each with its ``findings``), which CI scripts parse,
and adds ``findings``: every listed finding of every check, the weightiest first, with
structured fields (check, severity, schema, table, index, columns, size_bytes, rows, scans,
writes_per_day, fix, undo) besides the text.
"""

from __future__ import annotations

import json
from typing import Any

from dbtune.doctor import DoctorReport, Scored
from dbtune.results import Outcome, Report, Section


def _finding(check: str, s: Scored) -> dict[str, Any]:
    f = s.finding
    return {
        "check": check,
        "severity": f.severity,
        "subject": f.subject,
        "message": f.message,
        "schema": s.schema,
        "table": s.table,
        "index": s.index,
        "columns": list(f.columns),
        "size_bytes": s.size_bytes,
        "rows": s.rows,
        "scans": s.scans,
        "writes_per_day": round(s.writes_per_day, 1) if s.writes_per_day is not None else None,
        "impact": round(s.impact),
        "fix": f.fix,
        "undo": f.undo,
    }


def _small_line(count: int, report: DoctorReport) -> str:
    return (
        f"{count} more finding(s) on small objects (under {report.small_rows:,} rows and "
        f"{report.small_bytes / 2**20:g} MB), not listed: --all lists them"
    )


def to_dict(report: DoctorReport) -> dict[str, Any]:
    return {
        "target": report.target,
        "status": "pass" if report.passed else "fail",
        **({"notes": list(report.notes)} if report.notes else {}),
        "findings": [_finding(check, s) for check, s in report.ranked()],
        "checks": [
            {
                "id": o.id,
                "status": o.status,
                "findings": [
                    {
                        "subject": s.finding.subject,
                        "message": s.finding.message,
                        "fix": s.finding.fix,
                        "severity": s.finding.severity,
                    }
                    for s in o.findings
                ],
                **({"small_not_listed": o.small} if o.small else {}),
                **({"ignored": o.ignored} if o.ignored else {}),
                **({"skipped": o.skipped} if o.skipped is not None else {}),
                **(
                    {"not_judged": [{"table": t, "why": why} for t, why in o.not_judged]}
                    if o.not_judged
                    else {}
                ),
            }
            for o in report.outcomes
        ],
    }


def render_json(report: DoctorReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def _weight(s: Scored) -> str:
    parts: list[str] = [s.finding.severity]
    if s.size_bytes is not None:
        parts.append(f"{s.size_bytes / 2**20:,.1f} MB")
    if s.rows is not None:
        parts.append(f"{s.rows:,.0f} rows")
    if s.writes_per_day:
        parts.append(f"{s.writes_per_day:,.0f} writes/day")
    return ", ".join(parts)


def as_results(report: DoctorReport) -> Report:
    """One section per doctor module, the weightiest first; one outcome per finding (or one
    pass, or one skip), and one line for the findings on small objects."""
    sections = []
    for o in sorted(report.outcomes, key=lambda o: -max((s.impact for s in o.findings), default=0)):
        if o.skipped is not None:
            outcomes = [Outcome(o.id, "skip", "", o.skipped)]
        elif not o.findings and not o.small:
            outcomes = [Outcome(o.id, "pass", "", "no findings")] if not o.not_judged else []
        else:
            outcomes = [
                Outcome(o.id, "fail", s.finding.subject, f"[{_weight(s)}] {s.finding.message}",
                        s.finding.fix)
                for s in o.findings
            ]  # fmt: skip
            if o.small:
                outcomes.append(
                    Outcome(o.id, "fail", "(small objects)", _small_line(o.small, report))
                )
        outcomes += [Outcome(o.id, "skip", table, f"not judged: {why}")
                     for table, why in o.not_judged]  # fmt: skip
        sections.append(Section(o.id, tuple(outcomes)))
    return Report("doctor", report.target, tuple(sections), notes=report.notes)
