"""The cost matrix: each workload query planned with each candidate index in place.

Each candidate is made once — hypothetical (HypoPG: no lock, nothing written) or built in a
transaction that is rolled back (the embedded server, or when asked: a SHARE lock on the table
while it builds) — and every query that reads its table is planned beside it, each in a
savepoint. Plans only (EXPLAIN without ANALYZE): HypoPG's indexes are invisible to execution,
and the choice compares estimated costs. The same machinery plans the chosen set together,
to verify it. A hypothetical index is never left behind: ``hypopg_reset()`` runs after each
candidate whatever happened, Ctrl-C included, and the indexes die with the connection anyway.

Then pairs (:func:`pairs_for`): a query whose plan may use two new indexes together — one on
each side of a join, two conditions of one table in a bitmap — is planned with its best
candidates two at a time. Every answer is cached by (query, the candidates in place on its
tables) in a :class:`WhatIfCache`, which also counts the what-if plans made and the time
they took, and keeps each candidate's size (HypoPG's estimate, or the built file's) for the
storage budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from dbtune.design.solver import Candidate, exclusive
from dbtune.query.advice import Setup, Suggestion
from dbtune.query.options import PLANS_ONLY, PlanOptions
from dbtune.query.result import QueryFailed, QueryResult
from dbtune.query.what_if import make_sized_index
from dbtune.workload import QueryProfile

Connection = psycopg.Connection[tuple[Any, ...]]


class PlanQuery(Protocol):
    """explain's ``explain_query``, handed in by the command: the design tool plans through
    explain without importing it."""

    def __call__(
        self,
        conn: Connection,
        target: QueryProfile,
        options: PlanOptions = ...,
        *,
        setup: Setup | None = None,
        natural_first: bool = True,
    ) -> QueryResult: ...


@dataclass(frozen=True, slots=True)
class Planning:
    """Where and how the design plans a statement: one connection, explain's planner."""

    conn: Connection
    plan: PlanQuery


@contextmanager
def made(
    conn: Connection,
    suggestions: Sequence[Suggestion],
    engine: str,
    sizes: dict[str, int] | None = None,
) -> Iterator[dict[str, str]]:
    """The indexes in place for the block, in a transaction that is rolled back; yields the
    name each has in a plan (HypoPG's is ``<oid>btree_...``). ``sizes`` gets each one's
    bytes."""
    names: dict[str, str] = {}
    with conn.transaction(force_rollback=True):
        try:
            for s in suggestions:
                names[s.name], size = make_sized_index(conn, s, engine)
                if sizes is not None:
                    sizes[s.name] = size
            yield names
        finally:
            if engine == "hypopg" and not conn.closed:
                conn.execute("SELECT hypopg_reset()")


def plan_with(
    planning: Planning, profile: QueryProfile, answering: Callable[[str | None], str]
) -> QueryResult:
    """Plan ``profile`` now (the indexes made by the caller), its expected index read under
    the name ``answering`` gives for it ('' keeps the workload's)."""

    def run(_: Connection) -> str:
        return answering(profile.query.expect.index)

    return planning.plan(
        planning.conn, profile, PLANS_ONLY, setup=Setup(run, plan_only=True), natural_first=False
    )


Outcome = tuple[float, bool] | None
"""A what-if's answer for one query: (estimated cost, passes), or None: it could not be
planned with those indexes."""


@dataclass
class WhatIfCache:
    """Every what-if plan of the design, cached by (query, the candidates in place on the
    tables it reads): an index on a table a query does not read cannot change its plan, so
    any two configurations that agree on its tables share the answer. Counts the plans made
    and the time in them (making the indexes included), and keeps each candidate's size."""

    planning: Planning
    candidates: Sequence[Candidate]
    engine: str
    results: dict[tuple[str, frozenset[int]], Outcome] = field(default_factory=dict)
    used: dict[tuple[str, frozenset[int]], tuple[int, ...]] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    calls: int = 0
    seconds: float = 0.0

    def relevant(self, profile: QueryProfile, members: Iterable[int]) -> frozenset[int]:
        tables = profile.tables()
        return frozenset(i for i in members if self.candidates[i].suggestion.table in tables)

    def cached(self, profile: QueryProfile, members: Iterable[int]) -> Outcome:
        return self.results.get((profile.key, self.relevant(profile, members)))

    def used_by(self, profile: QueryProfile, members: Iterable[int]) -> tuple[int, ...]:
        """The members the query's plan read when planned with ``members`` in place."""
        return self.used.get((profile.key, self.relevant(profile, members)), ())

    def plan(self, profiles: Sequence[QueryProfile], members: Sequence[int]) -> list[Outcome]:
        """Each profile planned with ``members`` in place, made once for all of them."""
        keys = [(p.key, self.relevant(p, members)) for p in profiles]
        todo = [(p, k) for p, k in zip(profiles, keys, strict=True) if k not in self.results]
        if todo:
            self._plan(todo, members)
        return [self.results[k] for k in keys]

    def _plan(self, todo: list[tuple[QueryProfile, tuple[str, frozenset[int]]]],
              members: Sequence[int]) -> None:  # fmt: skip
        started, conn = time.perf_counter(), self.planning.conn
        chosen = [self.candidates[i] for i in members]
        sizes: dict[str, int] = {}
        with made(conn, [c.suggestion for c in chosen], self.engine, sizes) as names:
            answering = _answering(chosen, names)
            shown = {names[c.suggestion.name]: i for i, c in zip(members, chosen, strict=True)}
            for profile, key in todo:
                self.calls += 1
                self._record(key, self._result(profile, answering), shown)
        for i, c in zip(members, chosen, strict=True):
            self.sizes.setdefault(i, sizes.get(c.suggestion.name, 0))
        self.seconds += time.perf_counter() - started

    def _record(self, key: tuple[str, frozenset[int]], result: QueryResult | None,
                shown: Mapping[str, int]) -> None:  # fmt: skip
        """The outcome, and which members the plan read (by their names in the plan)."""
        if result is None or result.plan is None:
            self.results[key], self.used[key] = None, ()
            return
        self.results[key] = (result.plan.root.total_cost, result.passed)
        read = result.plan.index_names()
        self.used[key] = tuple(sorted({shown[n] for n in read if n in shown}))

    def _result(
        self, profile: QueryProfile, answering: Callable[[str | None], str]
    ) -> QueryResult | None:
        try:
            return plan_with(self.planning, profile, answering)
        except (QueryFailed, psycopg.Error):
            if self.planning.conn.closed:
                raise
            return None


def _answering(
    chosen: Sequence[Candidate], names: Mapping[str, str]
) -> Callable[[str | None], str]:
    """The plan name of the chosen candidate a query expects (or one a merge stands for), ''
    for any other query."""

    def answering(expected: str | None) -> str:
        for c in chosen:
            if c.answers_to(expected):
                return names[c.suggestion.name]
        return ""

    return answering


def measure(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[int, tuple[float, bool]]]:
    """query key -> candidate position -> (estimated cost, passes) for every query that reads
    the candidate's table. A query the planner refuses with a candidate is left out for it."""
    matrix: dict[str, dict[int, tuple[float, bool]]] = {p.key: {} for p in profiles}
    candidates = cache.candidates
    for i, candidate in enumerate(candidates):
        progress(f"candidate {i + 1} of {len(candidates)}: {candidate.suggestion.name}")
        readers = [p for p in profiles if cache.relevant(p, (i,))]
        for p, outcome in zip(readers, cache.plan(readers, (i,)), strict=True):
            if outcome is not None:
                matrix[p.key][i] = outcome
    return matrix


PAIRED_PER_TABLE = 3
"""A query's pairs are made of its best candidates on each table it reads, this many each."""


def pairs_for(
    base: float, row: Mapping[int, tuple[float, bool]], candidates: Sequence[Candidate]
) -> list[tuple[int, int]]:
    """The pairs worth planning for a query: two of its cheaper-than-today candidates, each
    among the :data:`PAIRED_PER_TABLE` best on its table, never one name or one key leading
    the other's (those two are never chosen together)."""
    by_table: dict[tuple[str, str], list[int]] = {}
    for i in sorted((i for i, (cost, _) in row.items() if cost < base), key=lambda i: row[i][0]):
        on = by_table.setdefault(candidates[i].table, [])
        if len(on) < PAIRED_PER_TABLE:
            on.append(i)
    best = sorted(i for on in by_table.values() for i in on)
    return [
        (a, b) for n, a in enumerate(best) for b in best[n + 1 :]
        if not exclusive(candidates[a], candidates[b])
    ]  # fmt: skip


TOGETHER_PER_TABLE = 64
"""A query's best set is planned from its best candidates on each table, this many each."""


def together_for(
    base: float,
    row: Mapping[int, tuple[float, bool]],
    candidates: Sequence[Candidate],
    per_table: int = TOGETHER_PER_TABLE,
) -> tuple[int, ...]:
    """The query's cheaper-than-today candidates, the :data:`TOGETHER_PER_TABLE` best on each
    table, to be planned all at once: the plan then reads the set that serves it best, which
    becomes an option (a three-table join's three indexes). Of two that cannot be chosen
    together (one name, one key leading the other's) the cheaper stays."""
    taken: list[int] = []
    counted: dict[tuple[str, str], int] = {}
    for i in sorted((i for i, (cost, _) in row.items() if cost <= base), key=lambda i: row[i][0]):
        table = candidates[i].table
        if counted.get(table, 0) >= per_table:
            continue
        if any(exclusive(candidates[i], candidates[j]) for j in taken):
            continue
        taken.append(i)
        counted[table] = counted.get(table, 0) + 1
    return tuple(sorted(taken))


def measure_together(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    wanted: Mapping[str, tuple[int, ...]],
) -> dict[str, dict[tuple[int, ...], tuple[float, bool]]]:
    """query key -> {the set its plan read, planned with its ``wanted`` set: (cost, passes)},
    for the queries whose plan read two candidates or more. The plan it read is there with
    those alone, and no cheaper one appears with fewer indexes, so the cost is theirs."""
    found: dict[str, dict[tuple[int, ...], tuple[float, bool]]] = {}
    for p in profiles:
        members = wanted.get(p.key, ())
        if len(members) < 3:
            continue  # one or two: the singles and pairs have them
        found[p.key] = read_sets(cache, p, members)
    return found


FRONTIER_STEPS = 6
"""How many indexes a query's own frontier grows to (see :func:`frontier_sets`)."""
FRONTIER_PER_TABLE = 8
"""The candidates on each of its tables a query's frontier chooses from."""


def frontier_sets(
    cache: WhatIfCache, profile: QueryProfile, base: float, row: Mapping[int, tuple[float, bool]]
) -> dict[tuple[int, ...], tuple[float, bool]]:
    """:func:`frontier` per byte (what a small budget wants) and per step (what a large one
    wants: tiny indexes on tiny tables win per byte and save little)."""
    return {**frontier(cache, profile, base, row, True), **frontier(cache, profile, base, row,
                                                                      False)}  # fmt: skip


def frontier(
    cache: WhatIfCache,
    profile: QueryProfile,
    base: float,
    row: Mapping[int, tuple[float, bool]],
    per_byte: bool,
) -> dict[tuple[int, ...], tuple[float, bool]]:
    """The query's own cheapest way to spend bytes: from none of its candidates, add the one
    that cuts its cost most per byte, planned with those before it, and again, up to
    :data:`FRONTIER_STEPS`; each set of two or more is an option. A join whose indexes only
    pay together (an index on each side) is found step by step, and the small sets of the
    first steps fit a small budget where its best set does not."""
    pool = together_for(base, row, cache.candidates, FRONTIER_PER_TABLE)
    chosen: list[int] = []
    cost, found = base, {}
    for _ in range(FRONTIER_STEPS):
        best: tuple[float, int, tuple[float, bool]] | None = None
        for i in pool:
            if i in chosen or _clashes(cache.candidates, chosen, i):
                continue
            (out,) = cache.plan([profile], sorted([*chosen, i]))
            if out is not None and out[0] < cost:
                ratio = (cost - out[0]) / (max(cache.sizes.get(i, 0), 1) if per_byte else 1)
                if best is None or ratio > best[0]:
                    best = (ratio, i, out)
        if best is None:
            break
        chosen.append(best[1])
        cost = best[2][0]
        if len(chosen) >= 2:
            found[tuple(sorted(chosen))] = best[2]
    return found


def read_sets(
    cache: WhatIfCache,
    profile: QueryProfile,
    members: Sequence[int],
    others: Sequence[int] = (),
) -> dict[tuple[int, ...], tuple[float, bool]]:
    """The set the query's plan reads with ``members`` in place (two or more), with its cost,
    and its neighbours, each planned: the set with one member cut to its one-column prefix
    (the planner favours a wider index by a sliver; the narrower may cost half the bytes),
    and with one member swapped for one of ``others`` on its table (an index chosen for
    another query, which this one could share)."""
    (outcome,) = cache.plan([profile], members)
    read = cache.used_by(profile, members)
    if outcome is None or len(read) < 2:
        return {}
    found = {read: outcome}
    for n, i in enumerate(read):
        rest = {*read[:n], *read[n + 1 :]}
        table = cache.candidates[i].table
        swaps = [j for j in others if cache.candidates[j].table == table]
        for j in [_prefix_of(cache.candidates, i), *swaps]:
            if j is None or j in read or _clashes(cache.candidates, rest, j):
                continue
            trial = tuple(sorted({*rest, j}))
            (near,) = cache.plan([profile], trial)
            if near is not None:
                found[trial] = near
    return found


def _clashes(candidates: Sequence[Candidate], chosen: Iterable[int], new: int) -> bool:
    return any(exclusive(candidates[i], candidates[new]) for i in chosen)


def _prefix_of(candidates: Sequence[Candidate], position: int) -> int | None:
    """The candidate whose key is this one's without its last column (same table, plain)."""
    s = candidates[position].suggestion
    if len(s.columns) < 2 or s.include or s.where is not None:
        return None
    table = candidates[position].table
    for j, c in enumerate(candidates):
        t = c.suggestion
        if c.table == table and t.columns == s.columns[:-1] and not t.include and t.where is None:
            return j
    return None


def measure_pairs(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    wanted: Mapping[str, list[tuple[int, int]]],
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[tuple[int, ...], tuple[float, bool]]]:
    """query key -> pair -> (estimated cost, passes), each pair made once for the queries
    that want it."""
    by_pair: dict[tuple[int, int], list[QueryProfile]] = {}
    for p in profiles:
        for pair in wanted.get(p.key, []):
            by_pair.setdefault(pair, []).append(p)
    found: dict[str, dict[tuple[int, ...], tuple[float, bool]]] = {p.key: {} for p in profiles}
    for n, (pair, readers) in enumerate(sorted(by_pair.items())):
        progress(f"pair {n + 1} of {len(by_pair)}")
        for p, outcome in zip(readers, cache.plan(readers, pair), strict=True):
            if outcome is not None:
                found[p.key][pair] = outcome
    return found


def verify(
    planning: Planning, profiles: Sequence[QueryProfile], chosen: Sequence[Candidate], engine: str
) -> dict[str, QueryResult]:
    """Every query planned with the whole chosen set in place."""
    conn = planning.conn
    results: dict[str, QueryResult] = {}
    with made(conn, [c.suggestion for c in chosen], engine) as names:
        answering = _answering(chosen, names)
        for p in profiles:
            try:
                results[p.key] = plan_with(planning, p, answering)
            except (QueryFailed, psycopg.Error) as exc:
                if conn.closed:
                    raise
                results[p.key] = QueryResult(p.query, p.profile, {}, None, (), error=str(exc))
    return results
