"""The cost matrix: each workload query planned with each candidate index in place.

Each candidate is made once — hypothetical (HypoPG: no lock, nothing written) or built in a
transaction that is rolled back (the embedded server, or when asked: a SHARE lock on the table
while it builds) — and every query that reads its table is planned beside it, each in a
savepoint. Plans only (EXPLAIN without ANALYZE): HypoPG's indexes are invisible to execution,
and the choice compares estimated costs. The same machinery plans the chosen set together,
to verify it. A hypothetical index is never left behind: ``hypopg_reset()`` runs after each
candidate whatever happened, Ctrl-C included, and the indexes die with the connection anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from dbtune.design.solver import Candidate
from dbtune.query.advice import Setup, Suggestion
from dbtune.query.options import PLANS_ONLY, PlanOptions
from dbtune.query.result import QueryFailed, QueryResult
from dbtune.query.what_if import make_index
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
    conn: Connection, suggestions: Sequence[Suggestion], engine: str
) -> Iterator[dict[str, str]]:
    """The indexes in place for the block, in a transaction that is rolled back; yields the
    name each has in a plan (HypoPG's is ``<oid>btree_...``)."""
    names: dict[str, str] = {}
    with conn.transaction(force_rollback=True):
        try:
            for s in suggestions:
                names[s.name] = make_index(conn, s, engine)
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


def _answering(candidate: Candidate, shown: str) -> Callable[[str | None], str]:
    """The plan name of ``candidate`` for a query expecting it (or a suggestion it stands
    for), '' for any other query."""
    return lambda expected: shown if candidate.answers_to(expected) else ""


def measure(
    planning: Planning,
    profiles: Sequence[QueryProfile],
    candidates: Sequence[Candidate],
    engine: str,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[int, tuple[float, bool]]]:
    """query key -> candidate position -> (estimated cost, passes) for every query that reads
    the candidate's table. A query the planner refuses with a candidate is left out for it."""
    conn = planning.conn
    matrix: dict[str, dict[int, tuple[float, bool]]] = {p.key: {} for p in profiles}
    tables = {p.key: p.tables() for p in profiles}
    for i, candidate in enumerate(candidates):
        progress(f"candidate {i + 1} of {len(candidates)}: {candidate.suggestion.name}")
        readers = [p for p in profiles if candidate.suggestion.table in tables[p.key]]
        if not readers:
            continue
        with made(conn, [candidate.suggestion], engine) as names:
            shown = names[candidate.suggestion.name]
            for p in readers:
                try:
                    result = plan_with(planning, p, _answering(candidate, shown))
                except (QueryFailed, psycopg.Error):
                    if conn.closed:
                        raise
                    continue
                if result.plan is not None:
                    matrix[p.key][i] = (result.plan.root.total_cost, result.passed)
    return matrix


def verify(
    planning: Planning, profiles: Sequence[QueryProfile], chosen: Sequence[Candidate], engine: str
) -> dict[str, QueryResult]:
    """Every query planned with the whole chosen set in place."""
    conn = planning.conn
    results: dict[str, QueryResult] = {}
    with made(conn, [c.suggestion for c in chosen], engine) as names:

        def answering(expected: str | None) -> str:
            for c in chosen:
                if c.answers_to(expected):
                    return names[c.suggestion.name]
            return ""

        for p in profiles:
            try:
                results[p.key] = plan_with(planning, p, answering)
            except (QueryFailed, psycopg.Error) as exc:
                if conn.closed:
                    raise
                results[p.key] = QueryResult(p.query, p.profile, {}, None, (), error=str(exc))
    return results
