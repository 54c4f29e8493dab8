"""What the catalog says of the relations a plan scans: their sizes for the Seq Scan check,
resolved as the planner resolved them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from dbtune.catalog import (
    Table,
    psycopg_runner,
    read_tables,
    tables_from,
    tables_query,
)
from dbtune.plan import Plan
from dbtune.sql.text import StatementInfo

Connection = psycopg.Connection[tuple[Any, ...]]


_BY_NAME = "SELECT relname, oid FROM pg_class WHERE relname = ANY(%s) ORDER BY reltuples DESC"

ROWS_PER_PAGE_GUESS = 10  # a floor for a never-analyzed table the plan did not count


def read_relations(
    conn: Connection,
    info: StatementInfo,
    plans: list[Plan],
    named_rows: Sequence[Sequence[Any]] | None = None,
) -> dict[str, Table]:
    """What the catalog says of each relation the plans scan, keyed by the plan's name.

    The query's own relations are resolved by OID through the session's search_path (as the
    planner resolved them), so a same-named table in another schema cannot stand in. Names
    the query does not spell (a view's base tables, partitions) fall back to the largest
    relation of that name, which keeps the Seq Scan check on rather than off.
    """
    wanted = {n.relation_name for p in plans for n in p.nodes() if n.relation_name}
    if not wanted:
        return {}
    run = psycopg_runner(conn)
    if named_rows is None:
        named_rows = run(*named_tables(info))
    named = tables_from(named_rows)
    missing = sorted(wanted - {t.name for t in named.values()})
    tables = list(named.values())
    if missing:
        oids = [int(oid) for _, oid in conn.execute(_BY_NAME, [missing]).fetchall()]
        tables += read_tables(run, oids).values()
    found: dict[str, Table] = {}
    for stats in tables:
        current = found.get(stats.name)
        if current is None or stats.tuples > current.tuples:
            found[stats.name] = stats
    return found


def scans_a_table(plans: list[Plan]) -> bool:
    return any(n.node_type == "Seq Scan" for p in plans for n in p.nodes())


def named_tables(info: StatementInfo) -> tuple[Any, dict[str, Any]]:
    """The catalog read of the query's own relations (by OID, through the search_path)."""
    return tables_query([], named=[(r.schema, r.name) for r in info.relations])


def scanned_rows(plans: list[Plan], name: str) -> float:
    """Rows the plans' scans of ``name`` read (or, unexecuted, expected), loops included."""
    counted = [
        ((n.actual_rows if n.actual_rows is not None else n.plan_rows)
         + (n.rows_removed_by_filter or 0.0)) * (n.actual_loops or 1.0)
        for p in plans for n in p.nodes() if n.relation_name == name
    ]  # fmt: skip
    return max(counted, default=0.0)


def table_facts(
    relations: Mapping[str, Table], plans: list[Plan]
) -> tuple[dict[str, float], frozenset[str], frozenset[str], dict[str, str]]:
    """(rows per table, relations that are not tables, never-analyzed tables, partitions'
    parents) for the checks."""
    rows: dict[str, float] = {}
    unanalyzed = set()
    for name, relation in relations.items():
        if not relation.is_table:
            continue
        if not relation.analyzed:
            unanalyzed.add(name)
            rows[name] = max(scanned_rows(plans, name), float(relation.pages * ROWS_PER_PAGE_GUESS))
        else:
            rows[name] = relation.tuples
    not_tables = frozenset(n for n, r in relations.items() if not r.is_table)
    parents = {n: r.parent for n, r in relations.items() if r.parent}
    return rows, not_tables, frozenset(unanalyzed), parents
