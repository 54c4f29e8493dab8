"""An explain report as the shared results model (Markdown, JUnit, table) and as JSON.

Every format carries the same facts: per query and profile, each check's verdict and message
and a summary of the plan, so a failing CI log shows what the plan did without a second run.
JSON keeps explain's own shape (``queries`` with their ``checks`` and ``plan``), which CI
scripts parse.
"""

from __future__ import annotations

import json
from typing import Any

from dbtune.explain.runner import CAN_USE, CAN_USE_SETTINGS, ExplainReport, QueryResult
from dbtune.results import Outcome, Report, Section, Status


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
        "sql": r.query.sql,
        "status": _status(r),
        "params": {k: _jsonable(v) for k, v in r.params.items()},
        "checks": [{"id": c.id, "status": c.status, "message": c.message} for c in r.checks],
        "plan": plan_summary(r),
    }
    if r.error is not None:
        entry["error"] = r.error
    if r.notes:
        entry["notes"] = list(r.notes)
    if r.advice is not None:
        entry["advice"] = r.advice.to_dict()
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


def _grouped_notes(report: ExplainReport) -> tuple[str, ...]:
    """Each note once, naming every query it is about: the generic-plan note of a captured
    workload is the same for each ``$n`` statement and buried the failures twenty times over."""
    by_text: dict[str, list[str]] = {}
    for r in report.results:
        for note in r.notes:
            by_text.setdefault(note, []).append(section_name(r))
    return tuple(f"{', '.join(names)}: {note}" for note, names in by_text.items())


def section_name(result: QueryResult) -> str:
    return result.key


def as_results(report: ExplainReport) -> Report:
    """The report as sections (one per query profile) of outcomes (one per check)."""
    sections = []
    for r in report.results:
        name = section_name(r)
        outcomes = [Outcome(c.id, c.status, name, c.message) for c in r.checks]
        if r.error is not None:
            outcomes.append(Outcome("query", "error", name, r.error))
        if r.advice is not None:
            status: Status = "accepted" if r.status == "accepted" else "fail"
            outcomes.append(Outcome("advice", status, name, r.advice.text(), r.advice.fix))
        sections.append(Section(name, tuple(outcomes), _plan_text(r) if r.plan else ""))
    return Report(
        "explain",
        report.target,
        tuple(sections),
        caption=f"workload `{report.workload}`; {mode_line(report)}",
        notes=_grouped_notes(report),
        properties={"mode": mode_line(report)},
    )
