"""The advisor: from a failing plan to one suggested index, verified by a what-if, to an
Alembic revision (:mod:`.suggest`, :mod:`.what_if`, :mod:`.revision`, :mod:`.ops_chain`).

explain calls :func:`advisor`'s function for every failing query; the entry points wire the
two together, so neither tool imports the other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg

from dbtune.advisor.suggest import suggest
from dbtune.checks import CheckResult
from dbtune.db import local_timeouts, rolled_back
from dbtune.plan import Plan
from dbtune.query.advice import Advice, Advise, Measure, Replan
from dbtune.query.facts import QueryFacts
from dbtune.query.what_if import choose_engine, hypopg_installed, what_if
from dbtune.workload import Expectations

Connection = psycopg.Connection[tuple[Any, ...]]

READ_TIMEOUT_MS = 10_000
UNVERIFIED = (
    " Unverified: --what-if plans the query with it; where no index helps (the plan keeps its "
    "Seq Scan) the verdict becomes accepted."
)


def advisor(engine: str | None = None, *, embedded: bool = False) -> Advise:
    """The advice function explain calls on a failing query; ``engine`` (auto|hypopg|build)
    turns the what-if on."""

    def advise(
        conn: Connection,
        facts: QueryFacts,
        plan: Plan,
        expect: Expectations,
        checks: tuple[CheckResult, ...],
        replan: Replan,
    ) -> Advice:
        failing = {c.id for c in checks if c.status == "fail"}
        with rolled_back(conn):
            local_timeouts(conn, READ_TIMEOUT_MS, READ_TIMEOUT_MS)
            advice = suggest(conn, facts, plan, expect, generic_only=failing == {"generic_plan"})
            chosen, why = None, ""
            if engine and advice.suggestion is not None:
                stats = facts.relations.get(advice.suggestion.table)
                rows = stats.tuples if stats else 0.0
                installed = hypopg_installed(conn)
                chosen, why = choose_engine(
                    engine, installed=installed, embedded=embedded, rows=rows
                )
        if advice.suggestion is None:
            return advice
        if chosen is None:
            note = f" No what-if: {why}." if why else UNVERIFIED
            return replace(advice, message=advice.message + note)
        result = what_if(conn, advice.suggestion, chosen, Measure.of(plan, checks), replan)
        return replace(advice, what_if=result)

    return advise
