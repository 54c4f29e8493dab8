"""One index design for a whole workload: which candidate indexes to build, chosen together.

The per-query advisor proposes one index per failing query; on a real workload that gives
overlapping indexes and no idea of the total. Here the candidates (every per-query suggestion,
and the merges of those that share a key prefix) are weighed together: each query's estimated
cost with each candidate in place (a *cost matrix*, measured by the caller with HypoPG or a
rolled-back build) and its weight (calls, from pg_stat_statements when captured). The choice
is an exact integer program, solved with OR-Tools CP-SAT:

- every query is served by at most one option — one chosen candidate, or a set of them
  planned together — or by what exists today;
- at most ``budget_bytes`` for all the new indexes (their sizes as the what-if made them);
- at most ``max_per_table`` new indexes per table, at most ``max_write_overhead`` of write
  overhead per table (the sum of the chosen indexes' entry bytes over row bytes);
- never two chosen indexes one of whose key is a prefix of the other's (same predicate), nor
  two of one name;
- lexicographically: the most failing queries made to pass, then the least total weighted
  cost, then the fewest indexes (three solves, each keeping the one before's optimum).

Costs are per query and option, each planned beside the existing indexes: a single
candidate, or a pair the planner may use together (an index on each side of a join, two
conditions of one table combined in a bitmap). A query's cost under a set is the least of its
costs under the options the set holds; a join of three tables each needing an index is
first credited with its best pair; the caller then plans each query with what a solution
chose on its tables and, where that set does better, adds it as an option and solves again
(:func:`dbtune.commands.advise.choose`). The chosen set is verified together afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbtune.errors import UsageError
from dbtune.query.advice import Suggestion, bare_column, merge

COST_SCALE = 100
"""Costs are planner cost units with two decimals; CP-SAT wants integers."""
SIZE_UNIT = 1024
"""Sizes go to the solver in KiB (an index's rounded up, the budget down): never over it."""
SOLVER_SECONDS = 30.0
"""The time each of the solve's phases that decide the cost may take."""
TIEBREAK_SECONDS = 5.0
"""The time the last phase (fewest indexes at the cost found) may take. On TPC-DS (89
statements, 793 candidates) this phase ran out of its 30 s on every solve, while the cost
phase of the models re-solved alone was proven optimal in 4 and 8 s: most of advise's solve
time bought a tiebreak."""


@dataclass(frozen=True, slots=True)
class Candidate:
    suggestion: Suggestion
    sources: tuple[str, ...]  # the queries whose suggestion it is (or, merged, was)
    aliases: tuple[str, ...] = ()  # names of the suggestions a merge stands for
    overhead: float = 0.0  # index entry bytes / row bytes x the predicate's share of rows
    bytes: int = 0  # its size as the what-if made it (0: not known)

    @property
    def table(self) -> tuple[str, str]:
        return (self.suggestion.schema, self.suggestion.table)

    def answers_to(self, name: str | None) -> bool:
        """Whether a query expecting index ``name`` is served by this one."""
        return name is not None and (name == self.suggestion.name or name in self.aliases)


@dataclass(frozen=True, slots=True)
class QueryCosts:
    """One query (a profile of it): its weight, its cost and verdict today, with each
    candidate that touches its tables (by candidate position), and with sets of them planned
    together (pairs, and the sets earlier solutions held; only those that beat their members
    alone)."""

    key: str
    weight: float
    base: float
    base_passes: bool
    with_candidate: Mapping[int, tuple[float, bool]] = field(default_factory=dict)
    with_set: Mapping[tuple[int, ...], tuple[float, bool]] = field(default_factory=dict)

    def options(self) -> dict[tuple[int, ...], tuple[float, bool]]:
        """Every way a design can serve the query: the members, and (cost, passes)."""
        found = dict(self.with_set)
        found.update({(i,): v for i, v in self.with_candidate.items()})
        return found


@dataclass(frozen=True, slots=True)
class Selection:
    chosen: tuple[int, ...]
    served_by: Mapping[str, tuple[int, ...]]  # query key -> candidate positions; (): as today
    cost_before: float
    cost_after: float
    optimal: bool
    seconds: float
    unfixable: tuple[str, ...] = ()  # failing queries no candidate makes pass
    budget_bytes: int | None = None  # the storage budget it was chosen under

    @property
    def relative_cost(self) -> float:
        """The workload's estimated cost with the design over its cost with no new index."""
        return self.cost_after / self.cost_before if self.cost_before else 1.0

    def serving(self, position: int) -> list[str]:
        """The queries candidate ``position`` serves (alone or in a pair)."""
        return [k for k, members in self.served_by.items() if position in members]

    def chosen_bytes(self, candidates: Sequence[Candidate]) -> int:
        return sum(candidates[i].bytes for i in self.chosen)


def candidates_with_merges(suggestions: Sequence[tuple[Suggestion, str]]) -> list[Candidate]:
    """Every distinct suggestion (by table, key, INCLUDE and predicate; by name otherwise),
    with the queries it came from, plus each merge of two that share a key prefix."""
    found: dict[tuple[object, ...], Candidate] = {}
    for suggestion, query in suggestions:
        identity = _identity(suggestion)
        old = found.get(identity)
        sources = (*(old.sources if old else ()), query)
        found[identity] = Candidate(suggestion, tuple(dict.fromkeys(sources)))
    plain = list(found.values())
    merged: dict[tuple[object, ...], Candidate] = {}
    for big in plain:
        for small in plain:
            if big is small or len(small.suggestion.columns) > len(big.suggestion.columns):
                continue  # same length: same key, other INCLUDE lists (merged into their union)
            both = merge(big.suggestion, small.suggestion)
            if both is None or both == big.suggestion:
                continue
            identity = _identity(both)
            sources = tuple(dict.fromkeys((*big.sources, *small.sources)))
            aliases: tuple[str, ...] = (small.suggestion.name,)
            old = merged.get(identity)
            if old is not None:
                sources = tuple(dict.fromkeys((*old.sources, *sources)))
                aliases = tuple(dict.fromkeys((*old.aliases, *aliases)))
            merged[identity] = Candidate(both, sources, aliases)
    return plain + [m for k, m in merged.items() if k not in found]


def _identity(s: Suggestion) -> tuple[object, ...]:
    return (s.schema, s.table, s.columns, tuple(sorted(s.include)), s.where)


def prefix_redundant(a: Suggestion, b: Suggestion) -> bool:
    """One key leads the other's on the same table and predicate: a reader of the shorter
    is served by the longer (directions as written)."""
    if (a.schema, a.table, a.where) != (b.schema, b.table, b.where):
        return False
    short, long_ = (a, b) if len(a.columns) <= len(b.columns) else (b, a)
    n = len(short.columns)
    if long_.columns[:n] == short.columns:
        return True
    return [bare_column(c) for c in long_.columns[:n]] == [
        bare_column(c) for c in short.columns
    ] and (
        [c.endswith(" DESC") for c in long_.columns[:n]]
        == [not c.endswith(" DESC") for c in short.columns]
    )


def exclusive(a: Candidate, b: Candidate) -> bool:
    """Two candidates the design never holds together: one name, or one key leading the
    other's."""
    return a.suggestion.name == b.suggestion.name or prefix_redundant(a.suggestion, b.suggestion)


def unfixable(costs: Sequence[QueryCosts]) -> tuple[str, ...]:
    """Failing queries that no candidate makes pass."""
    return tuple(
        q.key for q in costs if not q.base_passes and not any(p for _, p in q.options().values())
    )


@dataclass
class _Model:
    """The integer program: ``use[i]`` builds candidate i; ``serve[(q, i)]`` serves query q
    with an option (one candidate or a pair); ``today[q]`` leaves q as it is."""

    candidates: Sequence[Candidate]
    costs: Sequence[QueryCosts]
    model: Any = None
    use: list[Any] = field(default_factory=list)
    serve: dict[tuple[str, tuple[int, ...]], Any] = field(default_factory=dict)
    terms: list[Any] = field(default_factory=list)
    fixes: list[Any] = field(default_factory=list)  # serve vars that make a failing query pass
    today: list[Any] = field(default_factory=list)

    def build(self, limits: Limits) -> None:
        from ortools.sat.python import cp_model

        self.model = cp_model.CpModel()
        self.use = [self.model.new_bool_var(f"use_{i}") for i in range(len(self.candidates))]
        for q in self.costs:
            self._query(q, must_fix=not q.base_passes)
        if limits.budget_bytes is not None:
            sizes = [-(-c.bytes // SIZE_UNIT) for c in self.candidates]
            self.model.add(sum(k * u for k, u in zip(sizes, self.use, strict=True))
                           <= limits.budget_bytes // SIZE_UNIT)  # fmt: skip
        for table in {c.table for c in self.candidates}:
            self._table([i for i, c in enumerate(self.candidates) if c.table == table], limits)

    def hint(self, solver: Any) -> None:
        """Hint every variable with its value in the solver's last solution."""
        self.model.clear_hints()
        for var in [*self.use, *self.serve.values(), *self.today]:
            self.model.add_hint(var, solver.value(var))

    def _query(self, q: QueryCosts, must_fix: bool) -> None:
        options = []
        for members, (cost, passes) in q.options().items():
            if cost >= q.base and (q.base_passes or not passes):
                continue  # no better than as it is: an index for nothing
            var = self.model.new_bool_var(f"serve_{q.key}_{members}")
            for i in members:
                self.model.add_implication(var, self.use[i])
            self.serve[(q.key, members)] = var
            options.append(var)
            self.terms.append(round(q.weight * cost * COST_SCALE) * var)
            if must_fix and passes:
                self.fixes.append(var)
        today = self.model.new_bool_var(f"today_{q.key}")
        self.today.append(today)
        self.terms.append(round(q.weight * q.base * COST_SCALE) * today)
        self.model.add_exactly_one([*options, today])

    def _table(self, on_table: list[int], limits: Limits) -> None:
        use = self.use
        max_per_table, max_write_overhead = limits.max_per_table, limits.max_write_overhead
        if max_per_table is not None:
            self.model.add(sum(use[i] for i in on_table) <= max_per_table)
        if max_write_overhead is not None:
            overheads = [round(self.candidates[i].overhead * 1000) * use[i] for i in on_table]
            self.model.add(sum(overheads) <= round(max_write_overhead * 1000))
        for x in on_table:
            for y in on_table:
                if x < y and exclusive(self.candidates[x], self.candidates[y]):
                    self.model.add(use[x] + use[y] <= 1)  # one name, one index


@dataclass(frozen=True, slots=True)
class Limits:
    """What a design may not exceed: in all, per table, per table's writes."""

    budget_bytes: int | None = None
    max_per_table: int | None = None
    max_write_overhead: float | None = None


def _cp_model() -> Any:
    try:
        from ortools.sat.python import cp_model  # imported here: advise only
    except ImportError:
        raise UsageError(
            "dbtune advise chooses the design with OR-Tools, which is not installed: "
            "pip install 'dbtune[advise]'"
        ) from None
    return cp_model


def select(
    candidates: Sequence[Candidate],
    costs: Sequence[QueryCosts],
    *,
    max_per_table: int | None = None,
    max_write_overhead: float | None = None,
    budget_bytes: int | None = None,
    seconds: float = SOLVER_SECONDS,
) -> Selection:
    """The exact choice (CP-SAT): the most failing queries fixed, then least weighted cost,
    then, at that cost, fewest indexes, within the limits (``budget_bytes``: the new indexes'
    sizes in all). ``optimal`` is about the first two: the last phase only breaks ties, in at
    most :data:`TIEBREAK_SECONDS`, and an index no chosen option uses is never chosen."""
    cp_model = _cp_model()
    started = time.perf_counter()
    built = _Model(candidates, costs)
    built.build(Limits(budget_bytes, max_per_table, max_write_overhead))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    statuses = []
    # Lexicographic: the most failing queries fixed, then the least cost, then fewest indexes.
    phases = [(-sum(built.fixes), seconds)] if built.fixes else []
    phases += [(sum(built.terms), seconds), (sum(built.use), min(seconds, TIEBREAK_SECONDS))]
    served: dict[str, tuple[int, ...]] = {}
    for n, (objective, limit) in enumerate(phases):
        built.model.minimize(objective)
        solver.parameters.max_time_in_seconds = limit
        status = solver.solve(built.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if n == len(phases) - 1 and served:
                break  # the tiebreak ran out before any solution: the last phase's stands
            raise ValueError(f"the solver found no index design ({solver.status_name(status)})")
        statuses.append(status)
        built.model.add(objective <= round(solver.objective_value))
        built.hint(solver)  # the next phase starts from this solution: never without one
        served = {q.key: () for q in costs}
        for (key, members), var in built.serve.items():
            if solver.value(var):
                served[key] = members
    chosen = tuple(sorted({i for members in served.values() for i in members}))
    return Selection(
        chosen,
        served,
        sum(q.weight * q.base for q in costs),
        weighted_cost_after(costs, served),
        all(s == cp_model.OPTIMAL for s in statuses[: len(phases) - 1]),
        time.perf_counter() - started,
        unfixable(costs),
        budget_bytes,
    )


def best_served(costs: Sequence[QueryCosts], keep: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Each query's best option among the ``keep`` candidates (passing first, then cheapest),
    () for as today: who serves what once some chosen indexes are taken out."""
    kept = set(keep)
    served: dict[str, tuple[int, ...]] = {}
    for q in costs:
        options = [(not ok, cost, m) for m, (cost, ok) in q.options().items() if set(m) <= kept]
        served[q.key] = min(options)[2] if options else ()
    return served


def weighted_cost_after(
    costs: Sequence[QueryCosts], served: Mapping[str, tuple[int, ...]]
) -> float:
    total = 0.0
    for q in costs:
        by = served[q.key]
        total += q.weight * (q.options()[by][0] if by else q.base)
    return total
