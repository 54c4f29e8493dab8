"""Plan checks, one module per check; the module name is the check's id.

Each module defines ``check(ctx) -> CheckResult | None`` (None when the workload does not ask
for it), ``ENABLED_BY`` (the :class:`~dbtune.workload.Expectations` keys that turn it on) and a
docstring that states the problem, the evidence in the plan, and the fix; each has a page
``docs/checks/<id>.md``, generated from both. The registry is built from the modules in this
package, so adding a check is adding one file (and its page). Modules starting with ``_`` are
helpers, not checks.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

from dbtune.plan import Plan
from dbtune.workload import Expectations

Status = Literal["pass", "fail", "skip"]

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

    def with_plan(self, plan: Plan) -> CheckContext:
        return replace(self, plan=plan, generic=None)

    def not_measured(self, check_id: str, default: str) -> CheckResult:
        """The skip of a check that needs EXPLAIN ANALYZE, saying why the plan was not run."""
        reason = f"skipped ({self.unmeasured})" if self.unmeasured else default
        return CheckResult(check_id, "skip", reason)


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        return self.status != "fail"


CheckFn = Callable[[CheckContext], "CheckResult | None"]


@cache
def registry() -> dict[str, CheckFn]:
    """Every check in this package, by id, in id order."""
    found: dict[str, CheckFn] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[info.name] = module.check
    return found


def run_checks(ctx: CheckContext, only: tuple[str, ...] | None = None) -> list[CheckResult]:
    """The results of every check (or of ``only`` these) that the expectations ask for."""
    results = (fn(ctx) for check_id, fn in registry().items() if only is None or check_id in only)
    return [r for r in results if r is not None]
