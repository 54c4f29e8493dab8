"""The cost matrix: each workload query planned with each candidate index in place.

Each candidate is made once — hypothetical (HypoPG: no lock, nothing written) or built in a
transaction that is rolled back (the embedded server, or when asked: a SHARE lock on the table
while it builds) — and every query that reads its table is planned beside it, each in a
savepoint. Plans only (EXPLAIN without ANALYZE): HypoPG's indexes are invisible to execution,
and the choice compares estimated costs. The same machinery plans the chosen set together,
to verify it. A hypothetical index is never left behind: ``hypopg_reset()`` runs after each
candidate whatever happened, Ctrl-C included, and the indexes die with the connection anyway.

Every answer is cached by (query, the candidates in place on its tables) in a
:class:`WhatIfCache`, which also counts the what-if plans made and the time they took, and
keeps each candidate's size (HypoPG's estimate, or the built file's) for the storage budget;
the sets of candidates a query may use together are planned through it too
(:mod:`.sets`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from dbtune.design.solver import Candidate
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
