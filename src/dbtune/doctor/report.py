"""A doctor report as the shared results model (Markdown, JUnit, table) and as JSON.

JSON keeps doctor's own shape (``checks``, each with its ``findings``), which CI scripts parse.
"""

from __future__ import annotations

import json
from typing import Any

from dbtune.doctor import DoctorReport
from dbtune.results import Outcome, Report, Section


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


def as_results(report: DoctorReport) -> Report:
    """One section per doctor module; one outcome per finding (or one pass, or one skip)."""
    sections = []
    for o in report.outcomes:
        if o.skipped is not None:
            outcomes = [Outcome(o.id, "skip", "", o.skipped)]
        elif not o.findings:
            outcomes = [Outcome(o.id, "pass", "", "no findings")]
        else:
            outcomes = [Outcome(o.id, "fail", f.subject, f.message, f.fix) for f in o.findings]
        sections.append(Section(o.id, tuple(outcomes)))
    return Report("doctor", report.target, tuple(sections), notes=report.notes)
