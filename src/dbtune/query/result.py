"""What explain makes of a query: its result, the run's report, and the query's own failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbtune.checks import CheckResult
from dbtune.plan import Plan
from dbtune.query.advice import Advice
from dbtune.query.facts import QueryFacts
from dbtune.workload import HotQuery, profile_key


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One query and profile: its plan and check results, or the error that stopped it."""

    query: HotQuery
    profile: str
    params: Mapping[str, Any]
    plan: Plan | None
    checks: tuple[CheckResult, ...]
    generic: Plan | None = None
    analyzed: bool = True
    error: str | None = None
    notes: tuple[str, ...] = ()
    advice: Advice | None = None
    facts: QueryFacts | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        """``name[profile]``: how reports, the design and the fleet name one query profile."""
        return profile_key(self.query.name, self.profile)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if not all(c.passed for c in self.checks):
            return "fail"
        if self.plan is None and self.checks and all(c.status == "skip" for c in self.checks):
            return "skip"  # could not be planned as written, and says why
        return "accepted" if any(c.status == "accepted" for c in self.checks) else "pass"

    @property
    def passed(self) -> bool:
        """Passes the gate: every check passes, or failed where no index helps (accepted), or
        the statement cannot be checked as written (a skip that says why)."""
        return self.status in ("pass", "accepted", "skip")


@dataclass(frozen=True, slots=True)
class ExplainReport:
    target: str
    workload: str
    analyze: bool
    mode: str = "will-use"
    server_version: int = 0
    results: tuple[QueryResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def errored(self) -> bool:
        return any(r.error is not None for r in self.results)


class QueryFailed(Exception):
    """One query could not be explained; the others still run."""
