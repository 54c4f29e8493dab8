"""Plan checks, one module per check; the module name is the check's id.

Each module defines ``check(ctx) -> (status, message) | None`` (None: nothing to say),
``ENABLED_BY`` (the :class:`~dbtune.workload.Expectations` keys that turn it on) and a
docstring that states the problem, the evidence in the plan, and the fix, and, when its
figure needs EXPLAIN ANALYZE, ``MEASURED`` (the skip message otherwise); each has a page
``docs/checks/<id>.md``, generated from both. The registry is built from the modules in this
package, so adding a check is adding one file (and its page). Modules starting with ``_`` are
helpers, not checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Literal

from dbtune.plan import Plan
from dbtune.registry import modules_in
from dbtune.workload import Expectations

Status = Literal["pass", "fail", "skip", "accepted"]
"""``accepted``: a failure no index can fix (the what-if keeps the plan, or nothing of the
query can be served by an index), so it does not fail the gate; ``expect.strict`` keeps it a
failure."""

SEQ_SCAN_ROW_THRESHOLD = 10_000
"""``no_seq_scan`` is on by default for tables the planner estimates above this many rows."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may look at: the plan, the expectations, and facts about the tables."""

    plan: Plan
    expect: Expectations
    table_rows: Mapping[str, float] = field(default_factory=dict)
    generic: Plan | None = None
    generic_error: str | None = None
    unmeasured: str | None = None
    """Why the plan was not executed (a locking read or a write without --allow-writes)."""
    not_tables: frozenset[str] = frozenset()
    """Scanned relations that are not tables (sequences...): no index can serve them."""
    unanalyzed: frozenset[str] = frozenset()
    """Tables never analyzed: their ``table_rows`` is the plan's count, not statistics."""
    parents: Mapping[str, str] = field(default_factory=dict)
    """A partition's partitioned table, for naming the table the user knows."""
    hints: tuple[str, ...] = ()
    """Conditions of the query that no index can serve (see :mod:`dbtune.query.sargable`)."""
    missing_index: bool = False
    """``expect.index`` names no index in this database."""
    order_by_count: int = 0
    """How many ORDER BY items the query has (``no_sort`` reads Incremental Sorts with it)."""
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD
    """``no_seq_scan``'s default threshold (``[tool.dbtune] seq_scan_rows``)."""
    allow_seq_scan: frozenset[str] = frozenset()
    """Tables a Seq Scan is fine on (``[tool.dbtune] allow_seq_scan``, a query's marker)."""

    def with_plan(self, plan: Plan) -> CheckContext:
        return replace(self, plan=plan, generic=None)

    def not_measured(self, default: str) -> Verdict:
        """The skip of a check that needs EXPLAIN ANALYZE, saying why the plan was not run."""
        return ("skip", f"skipped ({self.unmeasured})" if self.unmeasured else default)


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        return self.status != "fail"


Verdict = tuple[Status, str]
"""What a check module returns: its status and the message; the registry adds the id."""


def registry() -> dict[str, ModuleType]:
    """Every check module in this package, by id, in id order."""
    return modules_in(__name__, __path__)


def _asked_for(module: ModuleType, expect: Expectations) -> bool:
    """A check runs when a key it is enabled by is set; one with an ``ENABLE_NOTE`` is on by
    default and decides for itself."""
    if getattr(module, "ENABLE_NOTE", None):
        return getattr(expect, module.ENABLED_BY[0]) is not False
    # Identity, not equality: a limit of 0 is set (0 == False, but 0 is not False).
    return any(
        getattr(expect, key) is not None and getattr(expect, key) is not False
        for key in module.ENABLED_BY
    )


def _verdict(module: ModuleType, ctx: CheckContext) -> Verdict | None:
    measured = getattr(module, "MEASURED", None)
    if measured and not ctx.plan.analyzed:
        return ctx.not_measured(measured)
    verdict: Verdict | None = module.check(ctx)
    return verdict


def run_checks(ctx: CheckContext, only: tuple[str, ...] | None = None) -> list[CheckResult]:
    """The results of every check (or of ``only`` these) that the expectations ask for."""
    results = []
    for check_id, module in registry().items():
        if (only is None or check_id in only) and _asked_for(module, ctx.expect):
            verdict = _verdict(module, ctx)
            if verdict is not None:
                results.append(CheckResult(check_id, *verdict))
    return results
