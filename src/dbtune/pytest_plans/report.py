"""What the plugin tells: the terminal summary, the JSON or JUnit report, the workload file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pglast.parser import fingerprint

from dbtune.pytest_plans.recorder import PlanRecorder
from dbtune.workload import HotQuery

if TYPE_CHECKING:
    from dbtune.results import Report


def terminal_summary(recorder: PlanRecorder, terminalreporter: Any) -> None:
    flagged = recorder.flagged()
    errors = [s for s in recorder.seen.values() if s.error]
    tr = terminalreporter
    tr.section("dbtune plans")
    tr.write_line(
        f"{len(recorder.seen)} distinct statements planned (natural plan, then seqscan off), "
        f"{len(flagged)} "
        f"flagged, {len(errors)} could not be planned"
    )
    for s in flagged:
        assert s.result is not None
        tr.write_line(f"FLAGGED {s.name} (first in {s.test}, {s.driver}, {s.calls}x)")
        tr.write_line(f"  sql: {s.sql}")
        if s.result.plan:
            tr.write_line(f"  plan: {s.result.plan.summary()}")
        for c in s.result.checks:
            if c.status == "fail":
                tr.write_line(f"  {c.id}: {c.message}")
        if s.advice is not None:
            tr.write_line(f"  advice: {s.advice.message}")
    for s in errors:
        tr.write_line(f"not planned: {s.name} ({s.test}): {s.error}")
    for line in recorder.stats.lines.values() if recorder.stats else ():
        tr.write_line(line)


def report(recorder: PlanRecorder) -> Report:
    from dbtune.results import Outcome, Report, Section  # the end of the session only

    sections = []
    for s in recorder.seen.values():
        outcomes = [Outcome(c.id, c.status, s.name, c.message)
                    for c in (s.result.checks if s.result else ())]  # fmt: skip
        if s.error:
            outcomes.append(Outcome("plan", "skip", s.name, f"not planned: {s.error}"))
        if s.advice is not None:
            fix = s.advice.fix
            outcomes.append(Outcome("advice", "fail", s.name, s.advice.message, fix))
        plan = s.result.plan.summary() if s.result and s.result.plan else ""
        sections.append(Section(s.name, tuple(outcomes), plan))
    return Report("pytest --dbtune-plans", "the tests' databases", tuple(sections),
                  caption="natural plan, then enable_seqscan = off; plans only")  # fmt: skip


def as_json(recorder: PlanRecorder) -> str:
    return json.dumps(
        {
            "flagged": len(recorder.flagged()),
            "stats": list(recorder.stats.lines.values()) if recorder.stats else [],
            "statements": [
                {
                    "name": s.name, "sql": s.sql, "test": s.test, "driver": s.driver,
                    "calls": s.calls,
                    "status": "error" if s.error else (s.result.status if s.result else "?"),
                    "tables": sorted({n.relation_name for n in s.result.plan.nodes()
                                      if n.relation_name}) if s.result and s.result.plan
                    else [],
                    "plan": s.result.plan.summary() if s.result and s.result.plan else None,
                    "checks": [{"id": c.id, "status": c.status, "message": c.message}
                               for c in (s.result.checks if s.result else ())],
                    "advice": s.advice.to_dict() if s.advice else None,
                    "error": s.error,
                }
                for s in recorder.seen.values()
            ],
        },
        indent=2,
    )  # fmt: skip


def write_workload(recorder: PlanRecorder, path: Path) -> None:
    queries = [
        HotQuery(name=s.name, sql=s.sql.replace("%", "%%"),
                 description=f"seen in {s.test} ({s.calls}x)",
                 captured={"fingerprint": fingerprint(s.sql), "calls": s.calls})
        for s in recorder.seen.values()
    ]  # fmt: skip
    plans = {s.name: s.result.plan if s.result else None for s in recorder.seen.values()}
    header = "Written by pytest --dbtune-write-workload: the statements the tests sent."
    from dbtune.capture.workload_file import render, with_baselines

    path.write_text(render(with_baselines(queries, plans), header))
