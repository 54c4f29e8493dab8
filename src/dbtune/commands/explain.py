"""``dbtune explain``: the workload's queries under EXPLAIN, their plans checked.

>>> report = run(ExplainOptions(url, load_workload("workload.toml")))
>>> report.passed
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtune.advisor import advisor
from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD
from dbtune.commands.stats import StatsFile
from dbtune.explain import report as explain_report
from dbtune.explain.runner import CAN_USE, WILL_USE, run_workload
from dbtune.query.options import PlanOptions
from dbtune.query.result import ExplainReport
from dbtune.query.what_if import ENGINES
from dbtune.workload import Workload

render_json = explain_report.render_json
as_results = explain_report.as_results

__all__ = ["CAN_USE", "ENGINES", "WILL_USE", "ExplainOptions", "as_results", "render_json", "run"]


@dataclass(frozen=True, slots=True)
class ExplainOptions:
    """What ``dbtune explain`` takes: the database, the workload and how to plan it."""

    url: str
    workload: Workload
    analyze: bool = True
    mode: str = WILL_USE  # or CAN_USE: planner settings forced where the natural plan fails
    allow_writes: bool = False
    what_if: str | None = None  # one of ENGINES: plan each failing query with its suggestion
    embedded: bool = False  # the database is dbtune's own (the what-if may build there)
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD
    allow_seq_scan: frozenset[str] = frozenset()
    stats: StatsFile | None = None  # production's statistics, in the run's transaction only


def run(options: ExplainOptions) -> ExplainReport:
    """Plan (and, unless ``analyze=False``, execute in a rolled-back transaction) every query
    and profile, check each plan, and ask the advisor about every failure."""
    stats = options.stats
    planning = PlanOptions(
        analyze=options.analyze,
        mode=options.mode,
        allow_writes=options.allow_writes,
        seq_scan_rows=options.seq_scan_rows,
        allow_seq_scan=options.allow_seq_scan,
    )
    report = run_workload(
        options.url,
        options.workload,
        planning,
        advise=advisor(options.what_if, embedded=options.embedded),
        prepare=stats.into_transaction if stats is not None else None,
    )
    if stats is not None:
        stats.give_back(options.url)
    return report
