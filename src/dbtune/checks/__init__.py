"""Plan checks, one module per check; the module name is the check's id.

Each module defines ``check(plan, expect) -> CheckResult | None`` (None when the workload does
not ask for it) and a docstring that states the problem, the evidence in the plan, and the fix.
The registry is built from the modules in this package, so adding a file adds a check.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from dbtune.explain.plan import Plan
from dbtune.workload import Expectations

Status = Literal["pass", "fail"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


CheckFn = Callable[[Plan, Expectations], "CheckResult | None"]


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


def run_checks(plan: Plan, expect: Expectations) -> list[CheckResult]:
    """The results of every check that ``expect`` asks for."""
    results = (fn(plan, expect) for fn in registry().values())
    return [r for r in results if r is not None]
