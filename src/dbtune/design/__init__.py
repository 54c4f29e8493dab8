"""The design tool: one index design for a whole workload, chosen exactly and proven.

Its steps, each a module, wired in order by :mod:`dbtune.commands.advise` (the tool plans
through explain, suggests through the advisor and drops through doctor's findings, all handed
in: tools do not import one another):

1. Candidates: the advisor's per-query suggestions, the columns conditions compare
   (:mod:`.conditions`) and their merges (:mod:`.solver`).
2. The existing indexes have their say (:mod:`.existing`): a candidate one of them already is
   goes, a name one of them has is freed; unbounded columns are measured
   (:mod:`dbtune.query.wide`).
3. The cost matrix (:mod:`.measure`): each query planned with each candidate beside the
   existing indexes, HypoPG or a rolled-back build; the write overhead (:mod:`.overhead`).
4. The exact selection (CP-SAT, :mod:`.solver`), then the chosen set planned together
   (verified), and, where indexes can be built, measured (:mod:`.proof`): an index no statement
   is measurably faster with, or one that makes a statement slower, leaves the design.
5. The existing indexes a chosen one makes redundant are named; drops (:mod:`.drops`) only
   when asked. :mod:`.report` renders the design and writes its one revision.

"Advice" is what the advisor says about one query; a "design" is the set of indexes for the
workload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import psycopg

from dbtune.catalog import IndexInfo, psycopg_runner, read_tables
from dbtune.design.drops import Drop
from dbtune.design.existing import Redundant
from dbtune.design.measure import Planning
from dbtune.design.overhead import Overhead
from dbtune.design.proof import Measured, Refused, Timing, confirmed, measure_again, prove, refuted
from dbtune.design.solver import (
    Candidate,
    QueryCosts,
    Selection,
    best_served,
    weighted_cost_after,
)
from dbtune.errors import UsageError
from dbtune.query.advice import Suggestion
from dbtune.query.result import QueryResult
from dbtune.query.what_if import choose_engine, hypopg_installed
from dbtune.workload import QueryProfile

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Spent:
    """What the what-if engine was asked: plans made, and the seconds they took."""

    calls: int = 0
    seconds: float = 0.0


@dataclass
class Design:
    """What ``advise`` found: the report's whole content."""

    target: str
    engine: str
    profiles: list[QueryProfile]
    before: dict[str, QueryResult]
    candidates: list[Candidate]
    selection: Selection
    after: dict[str, QueryResult]
    drops: list[Drop]
    overheads: dict[Suggestion, Overhead] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # queries that could not be planned
    per_query: int = 0  # distinct per-query suggestions (what `explain --what-if` proposes)
    existing: list[tuple[Suggestion, IndexInfo]] = field(default_factory=list)  # already there
    renamed: list[tuple[str, str]] = field(default_factory=list)  # a name the database has
    refused: list[Refused] = field(default_factory=list)  # candidates left out, and why
    redundant: list[Redundant] = field(default_factory=list)  # existing, made redundant
    measured: dict[str, Measured] | None = None  # None: nothing could be executed (HypoPG)
    what_if: Spent = field(default_factory=Spent)
    curve: list[Selection] = field(default_factory=list)  # a selection per --budget-curve
    data_bytes: int = 0  # the size of the tables the workload reads (a budget's 1x)
    existing_bytes: int = 0  # dbtune's indexes already built, which a budget holds too

    @property
    def chosen(self) -> list[Candidate]:
        return [self.candidates[i] for i in self.selection.chosen]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.after.values())


def engine_for(conn: Connection, asked: str, embedded: bool, candidates: list[Candidate]) -> str:
    """The what-if engine for the candidates: ``asked``, or the one that can run here (a
    build holds a lock for as long as the largest candidate table takes)."""
    named = sorted({(c.suggestion.schema, c.suggestion.table) for c in candidates})
    tables = read_tables(psycopg_runner(conn), [], named=list(named))
    rows = max((t.tuples for t in tables.values()), default=0.0)
    engine, why = choose_engine(
        asked, installed=hypopg_installed(conn), embedded=embedded, rows=rows
    )
    if engine is None:
        raise UsageError(
            f"advise plans each query with each candidate index, and cannot here: {why}. "
            "Install HypoPG (apt-get install postgresql-NN-hypopg; CREATE EXTENSION hypopg) "
            "or run it on dbtune's embedded server"
        )
    return engine


MAX_PROOF_ROUNDS = 3
"""Measure, leave out what the measurements refute, measure the rest again: at most this
often (each round builds the design once and runs its statements 2 x RUNS times)."""


def proven(
    planning: Planning,
    profiles: Sequence[QueryProfile],
    candidates: Sequence[Candidate],
    costs: Sequence[QueryCosts],
    selection: Selection,
    progress: Callable[[str], None],
) -> tuple[Selection, dict[str, Measured], list[Refused]]:
    """The selection less what measurement refutes (see :mod:`.proof`), the last
    measurements, and the refused indexes with why."""
    baseline: dict[str, Timing | None] = {}
    refused: list[Refused] = []
    measured: dict[str, Measured] = {}
    for _ in range(MAX_PROOF_ROUNDS):
        chosen = [candidates[i] for i in selection.chosen]
        if not chosen:
            break
        progress(f"measuring the workload with and without {len(chosen)} indexes")
        measured = prove(planning, profiles, [c.suggestion for c in chosen], baseline)
        served = {
            c.suggestion.name: selection.serving(pos)
            for pos, c in zip(selection.chosen, chosen, strict=True)
        }
        expected = {p.query.expect.index for p in profiles if p.query.expect.index}
        judge = partial(refuted, chosen, served, expected=expected)
        again = partial(measure_again, planning, profiles, [c.suggestion for c in chosen], baseline)
        why = confirmed(measured, judge, again)
        if not why:
            break
        refused += [Refused(name, text) for name, text in why.items()]
        keep = tuple(i for i in selection.chosen if candidates[i].suggestion.name not in why)
        by = best_served(costs, keep)
        selection = replace(selection, chosen=keep, served_by=by,
                            cost_after=weighted_cost_after(costs, by))  # fmt: skip
    return selection, measured, refused


GAIN = 0.1
"""A candidate serves a passing query only when it cuts its estimated cost by this share:
a sliver of cost is not worth an index every write pays for."""


def costs_of(
    profile: QueryProfile,
    before: QueryResult,
    row: dict[int, tuple[float, bool]],
    sets: Mapping[tuple[int, ...], tuple[float, bool]] | None = None,
    gain: float = GAIN,
) -> QueryCosts:
    """The query's costs as the solver takes them: a candidate only where it is worth an
    index (it saves ``gain`` of the query's cost), a set (a pair, or the set its plan read
    with its best candidates in place) only where it beats every part of it the solver
    already has by ``gain`` again, or makes pass what none of them does."""
    base, passes = cost_of(before), before.passed
    worth = {
        i: (cost, ok) for i, (cost, ok) in row.items()
        if (ok and not passes) or cost < base * (1 - gain)
    }  # fmt: skip
    kept: dict[tuple[int, ...], tuple[float, bool]] = {}
    for members, (cost, ok) in sorted((sets or {}).items(), key=lambda kv: len(kv[0])):
        parts = [row.get(m, (base, passes)) for m in members]
        parts += [v for k, v in kept.items() if set(k) < set(members)]
        if (ok and not any(p for _, p in parts)) or cost < min(c for c, _ in parts) * (1 - gain):
            kept[members] = (cost, ok)
    return QueryCosts(profile.key, profile.weight, base, passes, worth, kept)


def cost_of(result: QueryResult) -> float:
    """The estimated cost of the plan a result holds (0 without one)."""
    return result.plan.root.total_cost if result.plan is not None else 0.0
