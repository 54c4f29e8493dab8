"""What the advisor says about a failing query: one suggested index, and what it did to the plan.

The records live in the core so that explain (which reports them) and the advisor (which
makes them) share them without importing each other. A suggestion is printed two ways, both
built from the same :class:`~dbtune.sql.index_spec.IndexSpec`: a ``create_index_online(...)`` call
for an Alembic revision and the ``CREATE INDEX CONCURRENTLY`` statement, every name quoted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from dbtune.checks import CheckResult
from dbtune.plan import Plan
from dbtune.query.facts import QueryFacts
from dbtune.sql import helper_calls
from dbtune.sql.index_spec import IndexSpec
from dbtune.workload import Expectations

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Setup:
    """What a what-if does in the transaction its plan is made in, before the query."""

    run: Callable[[Connection], str]
    """Creates the index and returns the name the plan will show for it."""
    plan_only: bool = False
    """The index is hypothetical (HypoPG): EXPLAIN ANALYZE would not see it."""


Replan = Callable[[Setup], tuple[Plan, tuple[CheckResult, ...]]]
"""Plans the query again, with ``Setup`` run first, and checks the plan."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One index, as ``create_index_online`` takes it."""

    schema: str
    table: str
    name: str
    columns: tuple[str, ...]  # "column" or "column DESC", names exactly as the catalog has them
    include: tuple[str, ...] = ()
    where: str | None = None
    reason: str = ""
    allow_wide: bool = False  # an unbounded column, measured small today (advise/wide.py)

    def spec(self) -> IndexSpec:
        return IndexSpec.build(
            self.name, self.table, self.columns, include=self.include, where=self.where
        )

    def statement(self, *, concurrently: bool = True) -> str:
        return self.spec().statement(self.schema, concurrently=concurrently).as_string() + ";"

    def helper_call(self) -> helper_calls.HelperCall:
        """The ``create_index_online`` call for an Alembic revision."""
        return helper_calls.create_index(self.spec(), self.schema, allow_wide=self.allow_wide)

    def call(self) -> str:
        return self.helper_call().text()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.table,
            "name": self.name,
            "columns": list(self.columns),
            "include": list(self.include),
            "where": self.where,
            "reason": self.reason,
            "allow_wide": self.allow_wide,
            "sql": self.statement(),
            "call": self.call(),
        }


MEASURED_GAIN = 0.10
"""A measured change counts when it moves the median time (or the buffers) by this share."""
MEASURED_NOISE_MS = 0.05
"""And, for *slower*, by this much time at least: two medians of a 0.05 ms statement differ by
more than 10 % on a busy 2-core machine."""


def measured_verdict(
    before_ms: float, before_buffers: int, after_ms: float, after_buffers: int
) -> str:
    """``faster``, ``slower`` or ``same``: the one rule for what measurement says (advise's
    proof and explain's build what-if). Time first; fewer buffers count only when the time
    is not worse."""
    if after_ms > before_ms * (1 + MEASURED_GAIN) and after_ms - before_ms > MEASURED_NOISE_MS:
        return "slower"
    if after_ms <= before_ms * (1 - MEASURED_GAIN):
        return "faster"
    if after_buffers <= before_buffers * (1 - MEASURED_GAIN):
        return "faster"
    return "same"


@dataclass(frozen=True, slots=True)
class Measure:
    """One plan of a what-if, in the figures a reviewer compares."""

    plan: str
    cost: float
    time_ms: float | None
    buffers: int | None
    failing: tuple[str, ...]  # check ids that fail

    @classmethod
    def of(cls, plan: Plan, checks: tuple[CheckResult, ...]) -> Measure:
        return cls(
            plan.summary(),
            plan.root.total_cost,
            plan.execution_time_ms,
            plan.root.buffers,
            tuple(c.id for c in checks if c.status == "fail"),
        )

    def figures(self) -> str:
        text = f"cost {self.cost:,.2f}"
        if self.time_ms is not None:
            text += f", {self.time_ms:.3f} ms"
        if self.buffers is not None:
            text += f", {self.buffers:,} buffers"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "cost": self.cost,
            "time_ms": self.time_ms,
            "buffers": self.buffers,
            "failing": list(self.failing),
        }


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The query planned before and after the suggested index existed."""

    engine: str  # "hypopg" (a hypothetical index: plans only) or "build" (built, rolled back)
    before: Measure
    after: Measure
    note: str = ""

    @property
    def verdict(self) -> str | None:
        """What measurement says (a build: medians of executed runs), None for estimates."""
        b, a = self.before, self.after
        if self.engine != "build" or None in (b.time_ms, a.time_ms):
            return None
        if a.plan == b.plan:
            return "same"  # the index is not in the plan: any difference is the machine's
        return measured_verdict(b.time_ms or 0.0, b.buffers or 0, a.time_ms or 0.0,
                                a.buffers or 0)  # fmt: skip

    @property
    def passes(self) -> bool:
        """Every expectation passes with the index, and, measured, the query is not slower:
        an index that turns a check green by making the query slower is not the fix."""
        return not self.after.failing and self.verdict != "slower"

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "passes": self.passes,
            "measured": self.verdict,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Advice:
    """What to do about one failing query: a suggestion, or why there is none."""

    message: str
    suggestion: Suggestion | None = None
    what_if: WhatIf | None = None
    nothing_to_serve: bool = False  # the query has no condition or order an index could serve

    @property
    def verified(self) -> bool:
        """A suggestion that a what-if showed passing every expectation."""
        return self.suggestion is not None and self.what_if is not None and self.what_if.passes

    @property
    def fix(self) -> str:
        """The statement to print as the fix: never one a what-if showed failing."""
        if self.suggestion is None or (self.what_if is not None and not self.what_if.passes):
            return ""
        return self.suggestion.statement()

    def text(self) -> str:
        """The advice in one paragraph, with the what-if's before/after."""
        text = self.message
        if self.what_if is not None:
            w = self.what_if
            text += (
                f" What-if ({w.engine}): before {w.before.figures()} [{w.before.plan}]; "
                f"after {w.after.figures()} [{w.after.plan}]; "
            )
            if w.verdict == "slower":
                text += "measured slower with it: not the fix."
            elif w.passes:
                text += "every expectation passes."
            else:
                text += f"still fails {', '.join(w.after.failing)}: not the fix."
            if w.note:
                text += f" {w.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "suggestion": self.suggestion.to_dict() if self.suggestion else None,
            "what_if": self.what_if.to_dict() if self.what_if else None,
            "verified": self.verified,
        }


Advise = Callable[
    [Connection, QueryFacts, Plan, Expectations, tuple[CheckResult, ...], Replan], Advice
]
"""What explain calls on a failing query: (connection, the query's catalog facts, its plan,
its expectations, its check results, how to plan it again) -> advice."""


def bare_column(column: str) -> str:
    """The column of a key item (``created_at DESC`` -> ``created_at``)."""
    for suffix in (" DESC", " ASC"):
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def merge(big: Suggestion, small: Suggestion) -> Suggestion | None:
    """One index for both, when ``small``'s key leads ``big``'s on the same table with the
    same predicate: ``big``'s key and the union of their INCLUDE lists (each bounded by the
    advisor), less what the key holds."""
    if (big.schema, big.table, big.where) != (small.schema, small.table, small.where):
        return None
    if big.columns[: len(small.columns)] != small.columns:
        return None
    keyed = {bare_column(c) for c in big.columns}
    include = tuple(dict.fromkeys(c for c in (*big.include, *small.include) if c not in keyed))
    return replace(big, include=include)
