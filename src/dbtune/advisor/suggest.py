"""From a failing plan to one index: which columns, in which order, and what to leave out.

The rule, the one an experienced reviewer applies by hand:

1. the key starts with the columns compared by equality with one value, the most selective
   first (distinct values from ``pg_stats``);
2. then the ORDER BY columns with their directions, when the ORDER BY is all this table's —
   the index then returns rows in order and a LIMIT stops the scan early. A column compared
   with several values (``IN (a, b)``, ``= ANY($1)``) would break that order, so with an
   ORDER BY it stays out of the key (it is filtered); without one it follows the equalities,
   then one range column;
3. ``INCLUDE`` the other selected columns when there are few and every one has a bounded width
   (the migrations' btree-entry rule), so the scan can be index-only — not for a locking read
   or a write, which visit the table's row anyway;
4. conditions on constants over a column of few values (``status IN ('open', 'paid')``,
   ``deleted_at IS NULL``, a flag) that keep at most a fifth of the rows, by the planner's own
   estimate, become a partial index's WHERE; a constant on a column of many values (an email)
   is a lookup key and stays in the key.

It never proposes an index that exists or that an existing index serves (same leading columns
and directions); it says why the planner passes that one over instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from dbtune.catalog import Column, IndexInfo, Table
from dbtune.plan import Plan
from dbtune.query.advice import Advice, Suggestion
from dbtune.query.facts import QueryFacts
from dbtune.query.wide import settle
from dbtune.sql.identifiers import fit_name, free_name, ident
from dbtune.sql.shape import Condition, TableUse
from dbtune.workload import Expectations

Connection = psycopg.Connection[tuple[Any, ...]]

PARTIAL_FRACTION = 0.2
"""A constant condition keeping at most this share of the rows becomes a partial WHERE."""
CATEGORY_VALUES = 32
"""A column with at most this many distinct values (pg_stats) holds categories."""
MAX_INCLUDE = 4
"""More selected columns than this make the index a copy of the table: no INCLUDE."""
STALE_FRACTION = 0.1
"""Rows modified since the last ANALYZE, as a share of the table, that make statistics stale."""

_STATS = """
SELECT a.attnum, s.n_distinct
FROM pg_stats AS s
JOIN pg_namespace AS n ON n.nspname = s.schemaname
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = s.tablename
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = s.attname
WHERE c.oid = %s AND NOT s.inherited
"""
_MODIFIED = "SELECT n_mod_since_analyze FROM pg_stat_all_tables WHERE relid = %s"


@dataclass(frozen=True, slots=True)
class _Table:
    use: TableUse
    stats: Table
    columns: Mapping[str, Column]  # by name, this table's

    def attnum(self, name: str) -> int | None:
        column = self.columns.get(name)
        return column.attnum if column else None


def _target(facts: QueryFacts, plan: Plan) -> _Table | None:
    """The table to index: the biggest one the plan reads whole, else the biggest one the
    query filters or orders."""
    seq = {n.relation_name for n in plan.nodes() if n.node_type == "Seq Scan"}
    candidates = [
        u for u in facts.shape.tables
        if u.name in facts.relations and (u.conditions or u.order_by)
    ]  # fmt: skip
    if not candidates:
        return None
    best = max(candidates, key=lambda u: (u.name in seq, facts.relations[u.name].tuples))
    stats = facts.relations[best.name]
    columns = {
        c.width.name: c for (oid, _), c in facts.columns.items() if oid == stats.oid
    }  # fmt: skip
    return _Table(best, stats, columns)


def _distinct_values(conn: Connection, table: _Table) -> dict[int, float]:
    rows = conn.execute(_STATS, [table.stats.oid]).fetchall()
    tuples = max(table.stats.tuples, 1.0)
    return {int(a): (float(d) if d > 0 else -float(d) * tuples) for a, d in rows if d is not None}


def _fraction(conn: Connection, table: _Table, conditions: Sequence[Condition]) -> float:
    """The share of the table the conditions keep, by the planner's estimate."""
    where = sql.SQL(" AND ").join(sql.SQL(c.text) for c in conditions)
    query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT FROM {} WHERE {}").format(
        ident(table.stats.schema, table.stats.name), where
    )
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error:
        return 1.0
    rows = float(row[0][0]["Plan"]["Plan Rows"]) if row else 1.0
    return rows / max(table.stats.tuples, 1.0)


def _category(condition: Condition, table: _Table, distinct: Mapping[int, float]) -> bool:
    """A condition on a column of few values (a status, a flag, NULL or not): a constant
    there names a slice of the table worth its own index. A constant on a column of many
    values (an email, an id) is a lookup key, not a slice."""
    if condition.kind in ("null", "bool"):
        return True
    values = distinct.get(table.attnum(condition.column) or 0)
    return values is not None and values <= CATEGORY_VALUES


def _partial(conn: Connection, table: _Table, distinct: Mapping[int, float]) -> list[Condition]:
    constant = [
        c for c in table.use.conditions
        if c.constant and c.column in table.columns and _category(c, table, distinct)
    ]  # fmt: skip
    if not constant or table.stats.tuples <= 0:
        return []
    return constant if _fraction(conn, table, constant) <= PARTIAL_FRACTION else []


def _key(
    table: _Table, distinct: Mapping[int, float], partial: Sequence[Condition]
) -> tuple[list[tuple[str, bool]], list[str]]:
    """(key columns with directions, why they are in that order)."""
    in_where = {c.column for c in partial}
    usable = [
        c for c in table.use.conditions
        if c.column in table.columns and c.column not in in_where
    ]  # fmt: skip
    equal = list(dict.fromkeys(c.column for c in usable if c.kind in ("eq", "null", "bool")))
    equal.sort(key=lambda name: -distinct.get(table.attnum(name) or 0, 0.0))
    several = [c.column for c in usable if c.kind == "in" and c.column not in equal]
    ranges = [c.column for c in usable if c.kind == "range" and c.column not in equal]
    key = [(name, False) for name in equal]
    why = [f"equality on {', '.join(equal)} (most selective first)"] if equal else []
    order = [(n, d) for n, d in table.use.order_by if n in table.columns]
    if order and len(order) == len(table.use.order_by):
        key += [(n, d) for n, d in order if n not in equal]
        why.append("then the ORDER BY, so rows come in order and LIMIT stops early")
        if several:
            why.append(
                f"{', '.join(several)} (several values) is filtered, not in the key: "
                "it would break the order"
            )
    else:
        key += [(name, False) for name in dict.fromkeys(several)]
        key += [(name, False) for name in ranges[:1] if name not in several]
        if several or ranges:
            why.append("then the columns compared with several values or a range")
    return key, why


def _include(table: _Table, key: Sequence[tuple[str, bool]]) -> list[str]:
    selected = table.use.selected
    if not selected:
        return []
    rest = [n for n in selected if n not in {k for k, _ in key}]
    columns = [table.columns.get(n) for n in rest]
    if len(rest) > MAX_INCLUDE or any(c is None or c.unbounded for c in columns):
        return []
    return rest


def _serving(table: _Table, key: Sequence[tuple[str, bool]], indexes: Sequence[IndexInfo],
             where: str | None) -> IndexInfo | None:  # fmt: skip
    """An existing index whose leading key columns (by attnum, with directions or all of
    them reversed) are the suggestion's, with no predicate or the same one."""
    wanted = [(table.attnum(n) or -1, d) for n, d in key]  # -1: no column of the table
    return next(
        (i for i in indexes if i.table_oid == table.stats.oid and i.leads_with(wanted, where)),
        None,
    )


def _why_unused(conn: Connection, index: IndexInfo, table: _Table, generic_only: bool) -> str:
    if not index.valid:
        return (
            f"it is INVALID (a failed build): REINDEX INDEX CONCURRENTLY {index.qualified}, "
            "or drop and build it again"
        )
    if not table.stats.analyzed:
        return f"{table.stats.name} has never been analyzed: ANALYZE {index.table_qualified}"
    row = conn.execute(_MODIFIED, [table.stats.oid]).fetchone()
    modified = float(row[0]) if row and row[0] is not None else 0.0
    if modified > STALE_FRACTION * max(table.stats.tuples, 1.0):
        return (
            f"its statistics are stale ({modified:,.0f} rows modified since the last "
            f"ANALYZE): ANALYZE {index.table_qualified}"
        )
    if generic_only:
        return (
            "the custom plan uses it; the generic plan (after five executions of a prepared "
            "statement) does not: compare the parameter types with the column types, or set "
            "plan_cache_mode = force_custom_plan for this query"
        )
    return (
        "the planner estimates another path cheaper at this data volume; on a small database "
        "that is expected (try --can-use), on a large one check the estimates (EXPLAIN "
        "ANALYZE rows vs estimated rows) and the parameter types"
    )


def _name(table: _Table, key: Sequence[tuple[str, bool]], expect: Expectations,
          facts: QueryFacts) -> str:  # fmt: skip
    """The workload's expected index name when it does not exist yet, else ix_<table>_<cols>."""
    if expect.index and not facts.has_index(expect.index):
        return expect.index
    return fit_name("_".join(["ix", table.stats.name, *(n for n, _ in key)]))


_TAKEN = """
SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND (c.relname = %s OR c.relname LIKE %s)
"""


def _free_name(conn: Connection, schema: str, name: str) -> str:
    """``name``, or a free ``<name>_<n>`` when a relation of the schema has it: a what-if
    build under a taken name fails, and a revision would build over another definition."""
    pattern = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "\\_%"
    return free_name(name, {str(r[0]) for r in conn.execute(_TAKEN, [schema, name, pattern])})


def _no_target(facts: QueryFacts) -> Advice:
    """No table to index: say whether the query has nothing an index could serve (the best
    plan reads the table), or has conditions that could not be matched (a hint says why)."""
    hints = facts.hints()
    if hints or any(u.conditions or u.order_by for u in facts.shape.tables):
        return Advice(
            "no index suggested: no condition or ORDER BY of the query could be matched to "
            "a column of the table it reads" + (f" ({'; '.join(hints)})" if hints else "")
        )
    return Advice(
        "no index suggested: the query has no condition or ORDER BY an index can serve",
        nothing_to_serve=True,
    )


def suggest(
    conn: Connection,
    facts: QueryFacts,
    plan: Plan,
    expect: Expectations,
    *,
    generic_only: bool = False,
) -> Advice:
    """The one index that should serve the query, or why there is none (see the module).

    Runs its catalog reads on ``conn`` in the caller's transaction.
    """
    table = _target(facts, plan)
    if table is None:
        return _no_target(facts)
    distinct = _distinct_values(conn, table)
    partial = _partial(conn, table, distinct)
    key, why = _key(table, distinct, partial)
    if not key and partial:  # the slice is all the query asks for: key it instead
        partial = []
        key, why = _key(table, distinct, partial)
    where = " AND ".join(c.text for c in partial) or None
    if not key:
        return Advice(
            f"no index suggested for {table.stats.name}: nothing of the query an index key "
            "could hold"
        )
    existing = _serving(table, key, facts.indexes, where)
    if existing is not None:
        return Advice(
            f"no new index: {existing.qualified} already serves this query's key "
            f"({', '.join(n + (' DESC' if d else '') for n, d in key)}); the planner does not "
            f"use it because {_why_unused(conn, existing, table, generic_only)}"
        )
    suggestion = _suggestion(conn, facts, table, (key, why, where), expect)
    missing = (
        f"the expected index {expect.index} does not exist. "
        if expect.index and not facts.has_index(expect.index)
        else ""
    )
    unbounded = [n for n, _ in key if (c := table.columns.get(n)) is not None and c.unbounded]
    settled, why_not = settle(conn, suggestion, unbounded, {})
    if settled is None:
        return Advice(f"{missing}no index suggested: {suggestion.statement()} would be the one, "
                      f"but {why_not}")  # fmt: skip
    return Advice(f"{missing}Suggested: {settled.statement()} ({settled.reason})", settled)


def _suggestion(
    conn: Connection,
    facts: QueryFacts,
    table: _Table,
    keyed: tuple[list[tuple[str, bool]], list[str], str | None],
    expect: Expectations,
) -> Suggestion:
    """The index of ``key`` (and its partial predicate): INCLUDE for an index-only scan, a
    name the schema does not have, and why, in words."""
    key, why, where = keyed
    # A locking read or a write visits every row it touches: INCLUDE would buy nothing.
    include = [] if facts.shape.visits_rows else _include(table, key)
    if include:
        why.append(f"INCLUDE {', '.join(include)} (bounded) for an index-only scan")
    if where:
        why.append(f"partial: WHERE {where} keeps at most {PARTIAL_FRACTION:.0%} of the rows")
    return Suggestion(
        table.stats.schema,
        table.stats.name,
        _free_name(conn, table.stats.schema, _name(table, key, expect, facts)),
        tuple(n + (" DESC" if d else "") for n, d in key),
        tuple(include),
        where,
        "; ".join(why),
    )
