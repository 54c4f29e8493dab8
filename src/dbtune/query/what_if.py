"""Plan a failing query again as if the suggested index existed, and say whether it then passes.

Two engines:

- **hypopg**: ``hypopg_create_index`` makes a hypothetical index that exists only in this
  backend's memory; the planner sees it, nothing is written and no lock is taken. EXPLAIN
  ANALYZE ignores hypothetical indexes, so the comparison is of estimated cost and plan shape.
  Used when the extension is installed in the database (``CREATE EXTENSION hypopg``).
- **build**: ``CREATE INDEX`` (not concurrently) inside the transaction the query is explained
  in, which is always rolled back: real time and buffers. It holds a SHARE lock on the table
  while it builds — writers wait — so it runs only on the embedded server or when asked for
  (``--what-if=build``), and never on a table above :data:`BUILD_ROW_LIMIT` rows.
"""

from __future__ import annotations

from typing import Any

import psycopg

from dbtune.catalog import quoted
from dbtune.query.advice import Measure, Replan, Setup, Suggestion, WhatIf

Connection = psycopg.Connection[tuple[Any, ...]]

BUILD_ROW_LIMIT = 1_000_000
"""Above this many (estimated) rows a what-if build is refused: on 2 cores an index on a
million narrow rows builds in about a second, which is the longest SHARE lock worth taking for
an estimate."""
ENGINES = ("auto", "hypopg", "build")


def hypopg_installed(conn: Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    return bool(row and row[0])


def make_index(conn: Connection, suggestion: Suggestion, engine: str) -> str:
    """Make the suggested index in ``conn``'s transaction — hypothetical (``hypopg``) or built
    (``build``, rolled back with the transaction) — and return the name a plan shows for it."""
    return make_sized_index(conn, suggestion, engine)[0]


def make_sized_index(conn: Connection, suggestion: Suggestion, engine: str) -> tuple[str, int]:
    """:func:`make_index`, and the index's size in bytes: HypoPG's estimate
    (``hypopg_relation_size``) or the built file's."""
    statement = suggestion.spec().statement(suggestion.schema, concurrently=False)
    if engine == "hypopg":
        row = conn.execute(
            "SELECT indexname, hypopg_relation_size(indexrelid) FROM hypopg_create_index(%s)",
            [statement.as_string(conn)],
        ).fetchone()
        return (str(row[0]), int(row[1])) if row else (suggestion.name, 0)
    conn.execute(statement)
    row = conn.execute(
        "SELECT pg_relation_size(%s::regclass)", [quoted(suggestion.schema, suggestion.name)]
    ).fetchone()
    return suggestion.name, int(row[0]) if row else 0


def _hypothetical(suggestion: Suggestion) -> Setup:
    return Setup(lambda conn: make_index(conn, suggestion, "hypopg"), plan_only=True)


def _built(suggestion: Suggestion) -> Setup:
    return Setup(lambda conn: make_index(conn, suggestion, "build"))


def choose_engine(
    asked: str, *, installed: bool, embedded: bool, rows: float
) -> tuple[str | None, str]:
    """(engine, why) — the engine to use for ``asked`` (auto|hypopg|build), or None and why
    no what-if runs; ``installed``: HypoPG is, in this database."""
    if asked == "hypopg" or (asked == "auto" and installed):
        if installed:
            return "hypopg", ""
        return None, "HypoPG is not installed in this database (CREATE EXTENSION hypopg)"
    if asked == "auto" and not embedded:
        return None, (
            "HypoPG is not installed here (CREATE EXTENSION hypopg) and a real build needs "
            "--what-if=build (it holds a SHARE lock on the table while it builds)"
        )
    if rows > BUILD_ROW_LIMIT:
        return None, (
            f"the table has about {rows:,.0f} rows, over the {BUILD_ROW_LIMIT:,} a what-if "
            "build may lock for; install HypoPG for a lock-free what-if"
        )
    return "build", ""


MEASURED_RUNS = 3
"""A build what-if runs the query this many times without and with the index and compares
the medians: one run each way is noise on a busy machine."""


def _median_run(replan: Replan, setup: Setup) -> Measure:
    runs = [Measure.of(*replan(setup)) for _ in range(MEASURED_RUNS)]
    timed = sorted(runs, key=lambda m: m.time_ms if m.time_ms is not None else m.cost)
    return timed[len(timed) // 2]


def _without_index(_: Connection) -> str:
    return ""


def what_if(
    conn: Connection, suggestion: Suggestion, engine: str, before: Measure, replan: Replan
) -> WhatIf:
    """Plan again with the suggestion in place (``engine``: hypopg or build). A build is
    executed: :data:`MEASURED_RUNS` runs each way, the median run compared
    (:meth:`WhatIf.passes` refuses an index that makes the query measurably slower)."""
    if engine == "hypopg":
        try:
            plan, checks = replan(_hypothetical(suggestion))
        finally:
            with conn.transaction():
                conn.execute("SELECT hypopg_reset()")
        note = "hypothetical index: estimated cost and plan only, nothing built"
        return WhatIf(engine, before, Measure.of(plan, checks), note)
    after = _median_run(replan, _built(suggestion))
    if after.time_ms is not None:  # executed: measure the query without the index the same way
        before = _median_run(replan, Setup(_without_index))
    note = (
        f"built in a rolled-back transaction, holding a SHARE lock on "
        f"{quoted(suggestion.schema, suggestion.table)} while it built; medians of "
        f"{MEASURED_RUNS} runs each way"
    )
    return WhatIf(engine, before, after, note)
