"""``dbtune trace``: what each revision of a chain locks, rewrites and scans.

>>> found = run(select(TraceRequest(TraceOptions(ini=Path("alembic.ini")))))
>>> found.report.passed
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dbtune.commands.stats import StatsFile
from dbtune.trace import TraceReport, judge
from dbtune.trace import report as trace_report
from dbtune.trace.changed import changed_since
from dbtune.trace.rules import Settings
from dbtune.trace.runner import DEFAULT_ROWS, ChainTrace, TraceOptions, load_script, trace_chain
from dbtune.trace.scratch import scratch_url

render_json = trace_report.render_json
as_results = trace_report.as_results

__all__ = [
    "DEFAULT_ROWS", "Selected", "Settings", "TraceOptions", "TraceRequest", "Traced",
    "as_results", "render_json", "run", "select",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """What ``dbtune trace`` takes: the chain and its rules, and where it runs."""

    options: TraceOptions
    url: str | None = None  # a staging copy trace migrates; None: a fresh embedded database
    rows: int | None = None  # rows per empty table; None: DEFAULT_ROWS embedded, 0 on url
    files: frozenset[Path] | None = None  # report only these revision files
    changed_since: str | None = None  # ... and only those changed since this git ref
    stats: StatsFile | None = None  # production's statistics before each revision


@dataclass(frozen=True, slots=True)
class Selected:
    """The request resolved: the chain found, the revisions to report, the database."""

    options: TraceOptions
    url: str
    embedded: bool

    @property
    def nothing(self) -> bool:
        return self.options.only is not None and not self.options.only


@dataclass(frozen=True, slots=True)
class Traced:
    chain: ChainTrace
    report: TraceReport


def select(request: TraceRequest) -> Selected:
    """The chain's files read (a wrong path fails before any server starts), the revision
    files to report chosen, and the database: the request's, or a fresh embedded one."""
    options = request.options
    if request.stats is not None:
        options = replace(options, before_each=request.stats.before_revision)
    _, script = load_script(options)
    only = request.files
    if request.changed_since:
        changed = changed_since(request.changed_since, Path(script.versions))
        only = changed if only is None else only & changed
    if request.url is None:
        rows = DEFAULT_ROWS if request.rows is None else request.rows
        return Selected(replace(options, rows=rows, only=only), scratch_url(), True)
    return Selected(replace(options, rows=request.rows or 0, only=only), request.url, False)


def run(selected: Selected, progress: Callable[[str], None] = lambda _: None) -> Traced:
    """Each pending revision run and observed, then judged by the rules."""
    chain = trace_chain(selected.url, selected.options, progress)
    return Traced(chain, judge(chain, selected.options.settings))
