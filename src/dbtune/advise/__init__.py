"""``dbtune advise``: one index design for the whole workload (explain, the advisor and the
selection wired together, as an entry point: the tools do not import one another).

1. Plan every query of the workload (natural plans, no execution); the advisor suggests an
   index for each one that fails (:mod:`dbtune.advisor.suggest`).
2. Candidates: those suggestions and their merges (:mod:`dbtune.advisor.design`).
3. The cost matrix (:mod:`.measure`): each query planned with each candidate beside the
   existing indexes — HypoPG, or a rolled-back build.
   Before that, the existing indexes have their say (:mod:`.existing`): a candidate one of
   them already is goes, a name one of them has is freed; unbounded columns are measured
   (:mod:`dbtune.advisor.wide`).
4. The exact selection (CP-SAT), then the chosen set planned together (verified), and, where
   indexes can be built, measured (:mod:`.proof`): an index no statement is measurably faster
   with, or one that makes a statement slower, leaves the design, and why is listed.
5. The existing indexes a chosen one makes redundant are named; drops (:mod:`.drops`) only
   when asked: what no verified plan uses and doctor calls unused or redundant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbtune.advise.conditions import condition_candidates
from dbtune.advise.drops import Drop, drops
from dbtune.advise.existing import (
    Redundant,
    read_existing,
    redundant_existing,
    settle_wide,
    sift,
)
from dbtune.advise.measure import Profile, measure, verify
from dbtune.advise.overhead import Overhead, overhead_of, updated_columns
from dbtune.advise.proof import Measured, Refused, Timing, prove, refuted
from dbtune.advisor import advisor
from dbtune.advisor.design import (
    Candidate,
    QueryCosts,
    Selection,
    candidates_with_merges,
    select,
    weighted_cost_after,
)
from dbtune.advisor.what_if import choose_engine, hypopg_installed
from dbtune.catalog import IndexInfo
from dbtune.db import connect
from dbtune.db.dsn import describe
from dbtune.errors import UsageError
from dbtune.explain.results import QueryResult
from dbtune.explain.runner import run_workload
from dbtune.query.advice import Suggestion
from dbtune.workload import Workload

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass
class Design:
    """What ``advise`` found: the report's whole content."""

    target: str
    engine: str
    profiles: list[Profile]
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

    @property
    def chosen(self) -> list[Candidate]:
        return [self.candidates[i] for i in self.selection.chosen]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.after.values())


def _profiles(workload: Workload) -> list[Profile]:
    found = []
    for query in workload.queries:
        weight = float((query.captured or {}).get("calls", 1) or 1)
        for profile, pickers in query.profile_params().items():
            found.append(Profile(query, profile, dict(pickers), weight))
    return found


def _engine(conn: Connection, asked: str, embedded: bool, candidates: list[Candidate]) -> str:
    rows = 0.0
    for c in candidates:
        name = sql.Identifier(c.suggestion.schema, c.suggestion.table).as_string(conn)
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [name]
        ).fetchone()
        rows = max(rows, float(row[0]) if row else 0.0)
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


@dataclass
class _Planned:
    """The workload planned as it is: each profile's result, and the advisor's suggestions."""

    profiles: list[Profile]
    before: dict[str, QueryResult]
    skipped: list[str]
    suggestions: list[tuple[Suggestion, str]]  # the advisor's, with the query each is for
    per_query: int


def _planned(url: str, workload: Workload) -> _Planned:
    report = run_workload(url, workload, analyze=False, advise=advisor())
    before = {f"{r.query.name}[{r.profile}]": r for r in report.results}
    skipped = [f"{k}: {r.error}" for k, r in before.items() if r.error]
    profiles = [p for p in _profiles(workload) if p.key in before and before[p.key].error is None]
    suggestions = [
        (r.advice.suggestion, k)
        for k, r in before.items()
        if r.advice is not None and r.advice.suggestion is not None
    ]
    per_query = sum(1 for c in candidates_with_merges(suggestions) if not c.aliases)
    return _Planned(profiles, before, skipped, suggestions, per_query)


MAX_PROOF_ROUNDS = 3
"""Measure, leave out what the measurements refute, measure the rest again: at most this
often (each round builds the design once and runs its statements 2 x RUNS times)."""


@dataclass(frozen=True, slots=True)
class AdviseOptions:
    engine: str = "auto"
    embedded: bool = False
    max_per_table: int | None = None
    max_write_overhead: float | None = None
    propose_drops: bool = False
    versions: Path | None = None  # the ops chain's versions folder: whose an index is


def advise_workload(
    url: str,
    workload: Workload,
    options: AdviseOptions = AdviseOptions(),
    progress: Callable[[str], None] = lambda _: None,
) -> Design:
    """The design for ``workload`` on ``url`` (read only: every index it makes is
    hypothetical or rolled back). Raises :class:`UsageError` when no what-if engine can run,
    or when the limits leave no design."""
    progress("planning the workload as it is")
    planned = _planned(url, workload)
    profiles, before = planned.profiles, planned.before
    updated = updated_columns(workload)
    with connect(url) as conn:
        found = candidates_with_merges(
            [*planned.suggestions, *condition_candidates(conn, profiles)]
        )
        existing = read_existing(conn, [c.suggestion for c in found])
        sifted = sift(existing, found)
        found, unsafe = settle_wide(conn, existing, sifted.candidates)
        refused = [Refused(name, why) for name, why in unsafe]
        chosen_engine = _engine(conn, options.engine, options.embedded, found) if found else "none"
        overheads = {c.suggestion: overhead_of(conn, c.suggestion, updated) for c in found}
        candidates = [replace(c, overhead=overheads[c.suggestion].ratio) for c in found]
        matrix = measure(conn, profiles, candidates, chosen_engine, progress) if candidates else {}
        costs = [_costs(p, before[p.key], matrix.get(p.key, {})) for p in profiles]
        try:
            selection = select(candidates, costs, max_per_table=options.max_per_table,
                               max_write_overhead=options.max_write_overhead)  # fmt: skip
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        measured: dict[str, Measured] | None = None
        if chosen_engine == "build" and selection.chosen:
            selection, measured, more = _proven(conn, profiles, candidates, costs, selection,
                                                progress)  # fmt: skip
            refused += more
        chosen = [candidates[i] for i in selection.chosen]
        progress("planning the workload with the chosen indexes")
        after = verify(conn, profiles, chosen, chosen_engine) if chosen else dict(before)
        used = {n for r in after.values() if r.plan for n in r.plan.index_names()}
        chosen_suggestions = [c.suggestion for c in chosen]
        dropped = (
            drops(conn, used, chosen_suggestions, options.versions)
            if options.propose_drops else []
        )  # fmt: skip
    return Design(
        describe(url), chosen_engine, profiles, before, candidates, selection, after, dropped,
        overheads, planned.skipped, planned.per_query, sifted.served, sifted.renamed, refused,
        redundant_existing(existing, chosen_suggestions, options.versions), measured,
    )  # fmt: skip


def _proven(
    conn: Connection,
    profiles: Sequence[Profile],
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
        measured = prove(conn, profiles, [c.suggestion for c in chosen], baseline)
        served = {
            c.suggestion.name: [k for k, i in selection.served_by.items() if i == pos]
            for pos, c in zip(selection.chosen, chosen, strict=True)
        }
        expected = {p.query.expect.index for p in profiles if p.query.expect.index}
        why = refuted(chosen, served, measured, expected)
        if not why:
            break
        refused += [Refused(name, text) for name, text in why.items()]
        keep = tuple(i for i in selection.chosen if candidates[i].suggestion.name not in why)
        by = {k: (i if i in keep else None) for k, i in selection.served_by.items()}
        selection = replace(selection, chosen=keep, served_by=by,
                            cost_after=weighted_cost_after(costs, by))  # fmt: skip
    return selection, measured, refused


GAIN = 0.1
"""A candidate serves a passing query only when it cuts its estimated cost by this share:
a sliver of cost is not worth an index every write pays for."""


def _costs(profile: Profile, before: QueryResult, row: dict[int, tuple[float, bool]]) -> QueryCosts:
    base, passes = _cost(before), before.passed
    worth = {
        i: (cost, ok) for i, (cost, ok) in row.items()
        if (ok and not passes) or cost <= base * (1 - GAIN)
    }  # fmt: skip
    return QueryCosts(profile.key, profile.weight, base, passes, worth)


def _cost(result: QueryResult) -> float:
    return result.plan.root.total_cost if result.plan is not None else 0.0
