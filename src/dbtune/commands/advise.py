"""``dbtune advise``: one index design for the whole workload.

The composition of the design tool (:mod:`dbtune.design`) with the tools it needs: explain
plans the workload and the advisor suggests per query (:func:`_planned`), the design tool
finds, measures, selects and proves candidates through explain's planner, and doctor's
findings name the indexes a drop may take.

>>> design = run(AdviseOptions(url, workload, propose_drops=True))
>>> [c.suggestion.name for c in design.chosen]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dbtune.advisor import advisor
from dbtune.catalog import read_catalog
from dbtune.db import connect
from dbtune.db.dsn import describe
from dbtune.design import (
    GAIN,
    Connection,
    Design,
    Spent,
    cost_of,
    costs_of,
    engine_for,
    proven,
    sets,
)
from dbtune.design import report as design_report
from dbtune.design.budget import Budget, data_bytes, parse_budget, parse_budgets, spent_bytes
from dbtune.design.conditions import condition_candidates
from dbtune.design.drops import Drop, drops
from dbtune.design.existing import (
    Existing,
    Sifted,
    ours,
    read_existing,
    redundant_existing,
    settle_wide,
    sift,
)
from dbtune.design.measure import Planning, WhatIfCache, measure, verify
from dbtune.design.overhead import Overhead, updated_columns
from dbtune.design.overhead import overheads as overheads_of
from dbtune.design.proof import Measured, Refused
from dbtune.design.solver import (
    Candidate,
    QueryCosts,
    Selection,
    candidates_with_merges,
    select,
)
from dbtune.doctor import DoctorOptions
from dbtune.doctor.findings import redundant_indexes, unused_indexes
from dbtune.errors import UsageError
from dbtune.explain.runner import explain_query, run_workload
from dbtune.query.advice import Suggestion
from dbtune.query.options import PLANS_ONLY
from dbtune.query.result import QueryResult
from dbtune.query.what_if import ENGINES
from dbtune.workload import QueryProfile, Workload

render_json = design_report.render_json
render_markdown = design_report.render_markdown
write_revision = design_report.revision

__all__ = [
    "ENGINES",
    "AdviseOptions",
    "Budget",
    "Design",
    "parse_budget",
    "parse_budgets",
    "render_json",
    "render_markdown",
    "run",
]


@dataclass(frozen=True, slots=True)
class AdviseOptions:
    """What ``dbtune advise`` takes: the database, the workload, and the design's limits."""

    url: str
    workload: Workload
    engine: str = "auto"  # one of ENGINES: how candidates are planned
    embedded: bool = False  # the database is dbtune's own (the what-if may build there)
    max_per_table: int | None = None
    max_write_overhead: float | None = None
    propose_drops: bool = False
    versions: Path | None = None  # the ops chain's versions folder: whose an index is
    storage_budget: Budget | None = None  # dbtune's indexes' sizes in all, built and new
    budget_curve: tuple[Budget, ...] = ()  # a design at each, from the same cost matrix
    max_index_columns: int | None = None  # no candidate with a longer key (2: the papers')

    @property
    def min_gain(self) -> float:
        """The share of a passing query's cost a candidate must save to count: :data:`GAIN`,
        or, under a storage budget (or for a curve), any saving — the budget is then the
        price the user set on the indexes."""
        return 0.0 if self.storage_budget or self.budget_curve else GAIN


@dataclass
class _Planned:
    """The workload planned as it is: each profile's result, and the advisor's suggestions."""

    profiles: list[QueryProfile]
    before: dict[str, QueryResult]
    skipped: list[str]
    suggestions: list[tuple[Suggestion, str]]  # the advisor's, with the query each is for
    per_query: int


def _planned(url: str, workload: Workload) -> _Planned:
    report = run_workload(url, workload, PLANS_ONLY, advise=advisor())
    before = {r.key: r for r in report.results}
    skipped = [f"{k}: {r.error}" for k, r in before.items() if r.error]
    profiles = [p for p in workload.profiles() if before.get(p.key) and not before[p.key].error]
    suggestions = [
        (r.advice.suggestion, k)
        for k, r in before.items()
        if r.advice is not None and r.advice.suggestion is not None
    ]
    per_query = sum(1 for c in candidates_with_merges(suggestions) if not c.aliases)
    return _Planned(profiles, before, skipped, suggestions, per_query)


@dataclass
class _Found:
    """The candidates that survive the existing indexes, with their write overheads."""

    existing: Existing
    sifted: Sifted
    candidates: list[Candidate]
    overheads: dict[Suggestion, Overhead]
    refused: list[Refused]
    engine: str


def _found(conn: Connection, planned: _Planned, options: AdviseOptions) -> _Found:
    found = candidates_with_merges(
        [*planned.suggestions, *condition_candidates(conn, planned.profiles)]
    )
    if options.max_index_columns is not None:
        found = [c for c in found if len(c.suggestion.columns) <= options.max_index_columns]
    existing = read_existing(conn, [c.suggestion for c in found])
    sifted = sift(existing, found)
    kept, unsafe = settle_wide(conn, existing, sifted.candidates)
    engine = engine_for(conn, options.engine, options.embedded, kept) if kept else "none"
    updated = updated_columns(options.workload)
    overheads = overheads_of(conn, [c.suggestion for c in kept], updated)
    candidates = [replace(c, overhead=overheads[c.suggestion].ratio) for c in kept]
    refused = [Refused(name, why) for name, why in unsafe]
    return _Found(existing, sifted, candidates, overheads, refused, engine)


@dataclass
class CostMatrix:
    """The workload planned, its candidates (with their sizes) and their costs: what every
    choice starts from — the selection at any budget, and the baselines
    ``scripts/bench_advise.py`` weighs it against, on the same what-if cache."""

    planned: _Planned
    found: _Found
    cache: WhatIfCache
    costs: list[QueryCosts]
    data_bytes: int  # the size of the tables the workload reads: a budget's 1x
    existing_bytes: int = 0  # dbtune's indexes already built: held by any budget
    together: dict[str, tuple[int, ...]] = field(default_factory=dict)  # each query's best

    @property
    def candidates(self) -> list[Candidate]:
        return self.found.candidates

    @property
    def profiles(self) -> list[QueryProfile]:
        return self.planned.profiles


def cost_matrix(
    options: AdviseOptions, conn: Connection, progress: Callable[[str], None] = lambda _: None
) -> CostMatrix:
    """Plan the workload, find the candidates, and plan each query with each candidate and
    with the sets worth planning (:mod:`dbtune.design.sets`), on ``conn`` (everything made
    there is rolled back)."""
    progress("planning the workload as it is")
    planned = _planned(options.url, options.workload)
    found = _found(conn, planned, options)
    cache = WhatIfCache(Planning(conn, explain_query), found.candidates, found.engine)
    profiles, candidates = planned.profiles, found.candidates
    matrix = measure(cache, profiles, progress) if candidates else {}
    rows = {p.key: matrix.get(p.key, {}) for p in profiles}
    bases = {p.key: cost_of(planned.before[p.key]) for p in profiles}
    found_sets, together = sets.options(cache, profiles, rows, bases, progress)
    costs = [costs_of(p, planned.before[p.key], rows[p.key], found_sets[p.key], options.min_gain)
             for p in profiles]  # fmt: skip
    found.candidates = [replace(c, bytes=cache.sizes.get(i, 0)) for i, c in enumerate(candidates)]
    cache.candidates = found.candidates
    data = data_bytes(conn, {t for p in profiles for t in p.tables()})
    spent = 0
    if options.storage_budget or options.budget_curve:
        owned = [i.oid for i in ours(conn, options.versions)]
        spent = spent_bytes(conn, owned, found.engine)
    return CostMatrix(planned, found, cache, costs, data, spent, together)


SET_ROUNDS = 3
"""Solve, learn the sets the solution's plans read (:func:`dbtune.design.sets.learn`), solve
again: at most this often."""


def choose(
    matrix: CostMatrix,
    options: AdviseOptions,
    budget: Budget | None,
    progress: Callable[[str], None] = lambda _: None,
) -> Selection:
    """The exact selection within the limits and ``budget``, with the sets solutions chose
    learnt as options (a query joining three tables may use three new indexes at once). The
    learnt sets stay in ``matrix.costs`` for the next budget."""
    limit = budget.resolve(matrix.data_bytes) if budget else None
    left = None if limit is None else max(0, limit - matrix.existing_bytes)
    for n in range(SET_ROUNDS):
        selection = select(
            matrix.candidates,
            matrix.costs,
            max_per_table=options.max_per_table,
            max_write_overhead=options.max_write_overhead,
            budget_bytes=left,
        )
        progress(
            f"solve {n + 1}: {len(selection.chosen)} indexes, estimated "
            f"{selection.relative_cost:.1%} of the cost without them"
            f"{'' if selection.optimal else ' (time limit)'}"
        )
        if not sets.learn(matrix.cache, matrix.profiles, matrix.costs, matrix.together, selection):
            break
    return replace(selection, budget_bytes=limit)


def _selected(
    matrix: CostMatrix, options: AdviseOptions, progress: Callable[[str], None]
) -> tuple[Selection, list[Selection], dict[str, Measured] | None]:
    """The exact selection over the cost matrix, less what measurement refutes, and the
    budget curve from the same matrix."""
    candidates, costs = matrix.candidates, matrix.costs

    budgets = [options.storage_budget, *options.budget_curve]
    try:
        # Twice: the sets learnt at one budget are options at every other.
        solved = [choose(matrix, options, b, progress) for b in budgets]
        if len(budgets) > 1:
            solved = [choose(matrix, options, b, progress) for b in budgets]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    selection, curve = solved[0], solved[1:]
    if matrix.found.engine != "build" or not selection.chosen:
        return selection, curve, None
    selection, measured, more = proven(matrix.cache.planning, matrix.profiles, candidates, costs,
                                       selection, progress)  # fmt: skip
    matrix.found.refused += more
    return selection, curve, measured


def _drops(
    conn: Connection, used: set[str], chosen: list[Suggestion], versions: Path | None
) -> list[Drop]:
    """The drops doctor's unused and redundant findings allow."""
    with conn.transaction(force_rollback=True):
        catalog = read_catalog(conn)
    flagged = {
        f.index_oid: f.message
        for module in (unused_indexes, redundant_indexes)
        for f in module.inspect(catalog, DoctorOptions())
        if f.index_oid is not None
    }
    return drops(catalog, flagged, used, chosen, versions)


def run(options: AdviseOptions, progress: Callable[[str], None] = lambda _: None) -> Design:
    """The design for the workload on the database (read only: every index it makes is
    hypothetical or rolled back). Raises :class:`UsageError` when no what-if engine can run,
    or when the limits leave no design."""
    with connect(options.url) as conn:
        matrix = cost_matrix(options, conn, progress)
        planned, found = matrix.planned, matrix.found
        selection, curve, measured = _selected(matrix, options, progress)
        chosen = [found.candidates[i] for i in selection.chosen]
        progress("planning the workload with the chosen indexes")
        after = (
            verify(matrix.cache.planning, planned.profiles, chosen, found.engine)
            if chosen else dict(planned.before)
        )  # fmt: skip
        used = {n for r in after.values() if r.plan for n in r.plan.index_names()}
        suggestions = [c.suggestion for c in chosen]
        dropped = _drops(conn, used, suggestions, options.versions) if options.propose_drops else []
    return Design(
        describe(options.url), found.engine, planned.profiles, planned.before, found.candidates,
        selection, after, dropped, found.overheads, planned.skipped, planned.per_query,
        found.sifted.served, found.sifted.renamed, found.refused,
        redundant_existing(found.existing, suggestions, options.versions), measured,
        Spent(matrix.cache.calls, matrix.cache.seconds), curve, matrix.data_bytes,
        matrix.existing_bytes,
    )  # fmt: skip
