"""A trace as the shared results model (table, Markdown, JUnit) and as JSON.

One section per traced revision: a failed outcome per finding (rule, statement, why, the
safer way), an allowed one as a skip that shows the reason, or one pass. The JSON keeps
everything measured, statement by statement, for CI scripts and for reading a surprise.
"""

from __future__ import annotations

import json
from typing import Any

from dbtune.results import Outcome, Report, Section
from dbtune.trace import TraceReport
from dbtune.trace.record import RevisionTrace, StatementTrace


def _statement(s: StatementTrace) -> dict[str, Any]:
    return {
        "number": s.number,
        "sql": s.sql,
        "kinds": list(s.kinds),
        "transaction": None if s.autocommit else s.transaction,
        "bookkeeping": s.bookkeeping,
        "duration_ms": round(s.duration_ms, 3),
        "held_until_commit_ms": round(s.held_ms, 3),
        "lock_timeout": s.lock_timeout,
        "statement_timeout": s.statement_timeout,
        "rowcount": s.rowcount,
        "locks": [{"relation": k.relation.name, "mode": k.mode} for k in s.locks],
        "rewritten": [r.name for r in s.rewritten],
        "scanned": [{"relation": c.relation.name, "rows": c.rows} for c in s.scanned],
        "created": [r.name for r in s.created],
        "dropped": [r.name for r in s.dropped],
        "constraints": [
            {
                "name": c.name,
                "table": c.table.name,
                "type": c.contype,
                "validated": c.validated,
                "new": c.new,
            }
            for c in s.constraints
        ],
        **({"error": s.error} if s.error else {}),
        **({} if s.observed else {"observed": False}),
    }


def _status(report: TraceReport, revision: RevisionTrace) -> str:
    if revision.error:
        return "error"
    found = report.findings.get(revision.revision, [])
    return "fail" if any(f.allowed is None for f in found) else "pass"


def to_dict(report: TraceReport) -> dict[str, Any]:
    chain = report.chain
    return {
        "target": chain.target,
        "status": "error" if report.errored else "fail" if report.failed else "pass",
        "applied_untraced": chain.applied,
        **({"notes": chain.notes} if chain.notes else {}),
        "revisions": [
            {
                "revision": r.revision,
                "file": r.path.name,
                "message": r.message,
                "status": _status(report, r),
                "duration_ms": round(r.duration_ms, 3),
                **({"error": r.error} if r.error else {}),
                **({"allow_problems": r.allow_problems} if r.allow_problems else {}),
                "findings": [
                    {
                        "rule": f.rule,
                        "statement": f.statement,
                        "subject": f.subject,
                        "message": f.message,
                        "safer": f.safer,
                        **({"allowed": f.allowed} if f.allowed is not None else {}),
                    }
                    for f in report.findings.get(r.revision, [])
                ],
                "statements": [_statement(s) for s in r.statements],
            }
            for r in chain.revisions
        ],
    }


def render_json(report: TraceReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def _evidence(revision: RevisionTrace) -> str:
    work = revision.work()
    locks = sorted(
        {f"{k.spelled} {k.relation.name}" for s in work for k in s.locks
         if k.blocks_writes and revision.existed(k.relation)}
    )  # fmt: skip
    rewritten = sorted({r.name for s in work for r in s.rewritten if r.kind in ("r", "m")})
    count = f"{len(work)} statement" + ("" if len(work) == 1 else "s")
    parts = [f"{count}, {revision.duration_ms:.0f} ms"]
    if locks:
        parts.append("locks on existing tables: " + ", ".join(locks))
    if rewritten:
        parts.append("rewrote: " + ", ".join(rewritten))
    return "; ".join(parts)


def as_results(report: TraceReport) -> Report:
    sections = []
    for revision in report.chain.revisions:
        name = f"{revision.revision} ({revision.path.name})"
        outcomes: list[Outcome] = []
        if revision.error:
            outcomes.append(
                Outcome("revision", "error", name, f"the revision failed: {revision.error}")
            )
        for f in report.findings.get(revision.revision, []):
            where = f"#{f.statement} {f.subject}" if f.statement else f.subject
            if f.allowed is not None:
                outcomes.append(Outcome(f.rule, "skip", where, f"allowed: {f.allowed}"))
            else:
                outcomes.append(Outcome(f.rule, "fail", where, f.message, f.safer))
        for problem in revision.allow_problems:
            outcomes.append(Outcome("allow", "skip", name, problem))
        if not outcomes:
            outcomes.append(Outcome("trace", "pass", name, "no rule flagged it"))
        sections.append(Section(name, tuple(outcomes), _evidence(revision)))
    applied = report.chain.applied
    notes = list(report.chain.notes)
    if applied:
        notes.append(f"applied without tracing: {', '.join(applied)}")
    return Report("trace", report.chain.target, tuple(sections), notes=tuple(notes))
