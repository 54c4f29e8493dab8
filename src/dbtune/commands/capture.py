"""``dbtune workload capture``: a workload from pg_stat_statements, each query with the
shape of its plan today as its baseline; also the captured queries ``advise --from-stats``
adds to a workload.

>>> captured = run(CaptureOptions(url, top=20))
>>> print(render(captured.queries, "my header"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dbtune.capture.statements import Statement, read_statements
from dbtune.capture.workload_file import captured_queries, merged, render, with_baselines
from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD
from dbtune.db import connect
from dbtune.explain.runner import run_workload
from dbtune.query.options import PlanOptions
from dbtune.workload import HotQuery, Workload

__all__ = ["CaptureOptions", "Captured", "render", "run", "statement_queries"]


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    url: str
    top: int = 20
    min_calls: int = 1
    pickers: bool = True  # custom-plan twins with picked values
    existing: Workload | None = None  # --update: its hand-written keys survive
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD
    allow_seq_scan: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Captured:
    """The statements read and the workload's queries, baselines set; ``unplanned``: the
    queries left without a baseline, and why."""

    statements: Sequence[Statement]
    queries: list[HotQuery]
    unplanned: list[tuple[str, str]] = field(default_factory=list)


def statement_queries(
    url: str, *, top: int, min_calls: int, pickers: bool = True
) -> tuple[list[Statement], list[HotQuery]]:
    """The top statements of pg_stat_statements and the workload queries made of them."""
    with connect(url) as conn:
        statements = read_statements(conn, top=top, min_calls=min_calls)
    return statements, captured_queries(statements, pickers=pickers)


def run(options: CaptureOptions) -> Captured:
    """Capture, plan each query once (plans only: a captured statement may write, and a
    baseline needs no timings) and keep each plan's shape as its expectations."""
    statements, queries = statement_queries(
        options.url, top=options.top, min_calls=options.min_calls, pickers=options.pickers
    )
    if not statements:
        return Captured(statements, [])
    planning = PlanOptions(
        analyze=False, seq_scan_rows=options.seq_scan_rows, allow_seq_scan=options.allow_seq_scan
    )
    report = run_workload(options.url, Workload("<capture>", tuple(queries)), planning)
    plans = {r.query.name: r.plan for r in report.results}
    unplanned = [(r.query.name, r.error) for r in report.results if r.error is not None]
    fresh = with_baselines(queries, plans)
    final = merged(options.existing, fresh) if options.existing is not None else fresh
    return Captured(statements, final, unplanned)
