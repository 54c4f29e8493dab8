"""Measured, not estimated: the chosen indexes proven on the user's data (SPEC §11).

A lower estimated cost is not a faster query: on an application's storage advise chose an
index that moved a count of half a table onto a primary-key-shaped index scan, 9,517 buffers
and 2.8 ms where the Seq Scan read 170 buffers in 1.7 ms, and scored it fixed. So where the
indexes can be built (the ``build`` what-if: a rolled-back transaction), every statement that
reads a table of the design runs under ``EXPLAIN (ANALYZE, BUFFERS)`` :data:`RUNS` times without
the design and :data:`RUNS` times with it (each side after one run that warms the cache and is
not counted), and the medians are compared:

- *faster*: the median time at least 10 % lower, or the median shared buffers at least
  10 % lower with the time not *slower*;
- *slower*: the median time more than 10 % higher and more than 0.05 ms higher (two medians
  of a 0.05 ms statement differ by more than 10 % on a busy 2-core machine);
- *same* otherwise

(:func:`dbtune.query.advice.measured_verdict`, the rule explain's build what-if uses too).

An index stays only when a statement whose plan uses it is faster and none whose plan uses it
is slower; a statement measured slower refuses every index its plan uses (once measured again,
both sides: :func:`confirmed`). An index the
workload names in ``expect.index`` is the user's rule and stays unless it makes a statement
slower: that is how a user keeps a statement strict where measurement sees no gain (a small
table). With HypoPG nothing
can be executed: the report says the figures are estimates.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from dbtune.design.measure import Planning, made
from dbtune.design.solver import Candidate
from dbtune.query.advice import Suggestion, measured_verdict
from dbtune.query.options import PlanOptions
from dbtune.query.result import QueryFailed
from dbtune.workload import QueryProfile

Connection = psycopg.Connection[tuple[Any, ...]]
EXECUTED = PlanOptions(analyze=True)

RUNS = 5


@dataclass(frozen=True, slots=True)
class Refused:
    """A candidate left out of the design, and why (measured, or not safe to propose)."""

    name: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"index": self.name, "why": self.why}


@dataclass(frozen=True, slots=True)
class Timing:
    """Medians of :data:`RUNS` executions of one statement, and the plan they ran."""

    median_ms: float
    buffers: int
    plan: str
    indexes: frozenset[str]

    def figures(self) -> str:
        return f"{self.median_ms:.3f} ms, {self.buffers:,} buffers"

    def to_dict(self) -> dict[str, Any]:
        return {"median_ms": round(self.median_ms, 4), "buffers": self.buffers,
                "plan": self.plan}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Measured:
    """One statement without and with the design."""

    key: str
    before: Timing
    after: Timing

    @property
    def verdict(self) -> str:
        b, a = self.before, self.after
        if a.plan == b.plan and a.indexes == b.indexes:
            return "same"  # the design is not in its plan: any difference is the machine's
        return measured_verdict(b.median_ms, b.buffers, a.median_ms, a.buffers)

    def text(self) -> str:
        return f"{self.key}: {self.before.figures()} -> {self.after.figures()} ({self.verdict})"

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(),
                "verdict": self.verdict}  # fmt: skip


def timing(planning: Planning, profile: QueryProfile, runs: int = RUNS) -> Timing | None:
    """The statement executed ``runs`` times under EXPLAIN (ANALYZE, BUFFERS), after one run
    that is not counted; None when it cannot be executed (a write, a ``$n`` text)."""
    plans = []
    for _ in range(runs + 1):
        result = planning.plan(planning.conn, profile, EXECUTED)
        plan = result.plan
        if plan is None or plan.execution_time_ms is None or not result.analyzed:
            return None
        plans.append(plan)
    counted = plans[1:]
    return Timing(
        statistics.median(p.execution_time_ms or 0.0 for p in counted),
        round(statistics.median(p.root.buffers or 0 for p in counted)),
        counted[-1].summary(),
        frozenset(counted[-1].index_names()),
    )


def _readers(profiles: Sequence[QueryProfile], chosen: Sequence[Suggestion]) -> list[QueryProfile]:
    tables = {s.table for s in chosen}
    return [p for p in profiles if p.tables() & tables]


def _measure_all(planning: Planning, profiles: Sequence[QueryProfile]) -> dict[str, Timing | None]:
    found: dict[str, Timing | None] = {}
    for p in profiles:
        try:
            found[p.key] = timing(planning, p)
        except (QueryFailed, psycopg.Error):
            if planning.conn.closed:
                raise
            found[p.key] = None
    return found


def prove(
    planning: Planning,
    profiles: Sequence[QueryProfile],
    chosen: Sequence[Suggestion],
    baseline: dict[str, Timing | None],
) -> dict[str, Measured]:
    """Each statement reading a table of ``chosen``, measured without (kept in ``baseline``
    across calls) and with the indexes built in a rolled-back transaction."""
    readers = _readers(profiles, chosen)
    baseline.update(_measure_all(planning, [p for p in readers if p.key not in baseline]))
    with made(planning.conn, chosen, "build"):
        after = _measure_all(planning, readers)
    return {
        p.key: Measured(p.key, before, now)
        for p in readers
        if (before := baseline.get(p.key)) is not None and (now := after.get(p.key)) is not None
    }


def refuted(
    chosen: Sequence[Candidate],
    served: Mapping[str, Sequence[str]],
    measured: Mapping[str, Measured],
    expected: Iterable[str] = (),
) -> dict[str, str]:
    """Name -> why, for each chosen index the measurements refute (``served``: the
    statements the selection meant each for; one that could not be executed refutes nothing).

    An index the workload names (``expect.index``, in ``expected``) is the user's rule: no
    gain refutes it, only a statement made slower."""
    named = set(expected)
    why: dict[str, str] = {}
    for c in chosen:
        name = c.suggestion.name
        users = [m for m in measured.values() if name in m.after.indexes]
        slower = [m for m in users if m.verdict == "slower"]
        if slower:
            why[name] = "made a statement slower: " + "; ".join(m.text() for m in slower)
        elif not users and all(k in measured for k in served.get(name, ())):
            why[name] = "no measured statement's plan uses it"
        elif any(c.answers_to(e) for e in named):
            continue
        elif users and not any(m.verdict == "faster" for m in users):
            why[name] = "no statement that uses it got measurably faster: " + "; ".join(
                m.text() for m in users
            )
    return why


def measure_again(
    planning: Planning,
    profiles: Sequence[QueryProfile],
    chosen: Sequence[Suggestion],
    baseline: dict[str, Timing | None],
    keys: Collection[str],
) -> dict[str, Measured]:
    """The statements ``keys`` measured afresh, without the design and with it."""
    for key in keys:
        baseline.pop(key, None)
    return prove(planning, [p for p in profiles if p.key in keys], chosen, baseline)


def confirmed(
    measured: dict[str, Measured],
    judge: Callable[[Mapping[str, Measured]], dict[str, str]],
    again: Callable[[Collection[str]], dict[str, Measured]],
) -> dict[str, str]:
    """The refutations ``judge`` makes that hold when the statements behind them are measured
    ``again``, both sides. The two sides are measured apart, so one burst of another
    process's load can make a side's medians 10 % worse: an index refused on noise (the
    suspected cause of advise tests that exited 1 now and then under CI's load). A real loss
    (the 1.6x slower count) shows twice; the cost is one more build, only when a timing
    refutes something. ``measured`` is updated with the second figures."""
    why = judge(measured)
    doubted = {m.key for m in measured.values() if m.after.indexes & why.keys()}
    if not doubted:
        return why  # nothing refuted, or refuted by plans alone (no statement uses it)
    measured.update(again(doubted))
    still = judge(measured)
    return {name: text for name, text in still.items() if name in why}
