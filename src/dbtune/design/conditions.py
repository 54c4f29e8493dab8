"""Candidates from the columns a query's conditions compare, joins and subqueries included.

The per-query advisor builds one index for the table a failing plan reads whole, from the
conditions it can attribute to that table; an analytical query (TPC-H's, written with bare
column names over five tables) gives it little to go on, and a join key is never its lead.
So ``advise`` also offers, for each query and table, each column a condition compares (a
constant, a parameter or another table's column: a join) and each ordered pair of them —
the candidate space of Dexter and of the published index-selection evaluations — and lets
the exact selection decide which earn their place. Bare column names are attributed through
the catalog: a name that only one of the statement's tables has.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg import sql

from dbtune.query.advice import Suggestion
from dbtune.sql.identifiers import fit_name
from dbtune.workload import QueryProfile

Connection = psycopg.Connection[tuple[Any, ...]]

MAX_COLUMNS = 4
"""Per table and query: the columns kept (first named first) before pairs are formed."""

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')
"""


def _nodes(node: object) -> Iterator[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _nodes(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)


def _compared(statement: ast.Node) -> list[tuple[str | None, str]]:
    """(qualifier, column) of every column that is an operand of a comparison (=, <, >,
    BETWEEN, IN, LIKE) anywhere in the statement."""
    found: list[tuple[str | None, str]] = []
    for node in _nodes(statement):
        if not isinstance(node, ast.A_Expr):
            continue
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, ast.ColumnRef):
                names = [f.sval for f in side.fields or () if isinstance(f, ast.String)]
                if names:
                    found.append((str(names[-2]) if len(names) > 1 else None, str(names[-1])))
    return list(dict.fromkeys(found))


def _tables(conn: Connection, statement: ast.Node) -> dict[str, tuple[str, str, frozenset[str]]]:
    """Alias or name -> (schema, table, its columns), for every table the statement names."""
    found: dict[str, tuple[str, str, frozenset[str]]] = {}
    for node in _nodes(statement):
        if not isinstance(node, ast.RangeVar):
            continue
        parts = [str(p) for p in (node.schemaname, node.relname) if p]
        rows = conn.execute(_COLUMNS, [sql.Identifier(*parts).as_string(conn)]).fetchall()
        if rows:
            entry = (str(rows[0][0]), str(rows[0][1]), frozenset(str(r[2]) for r in rows))
            found[str(node.alias.aliasname) if node.alias else str(node.relname)] = entry
    return found


def condition_candidates(
    conn: Connection, profiles: Sequence[QueryProfile]
) -> list[tuple[Suggestion, str]]:
    """(candidate, the query it is for), single columns and ordered pairs, per table."""
    found: list[tuple[Suggestion, str]] = []
    seen: set[str] = set()
    for profile in profiles:
        if profile.query.name in seen:
            continue
        seen.add(profile.query.name)
        try:
            statements = parse_sql(profile.query.sql.replace("%%", "%"))
        except ParseError:
            continue
        for raw in statements:
            if raw.stmt is None:
                continue
            tables = _tables(conn, raw.stmt)
            by_table: dict[tuple[str, str], list[str]] = {}
            for qualifier, column in _compared(raw.stmt):
                owners = (
                    [tables[qualifier]] if qualifier is not None and qualifier in tables
                    else [t for t in tables.values() if column in t[2]]
                )  # fmt: skip
                if len({(s, t) for s, t, _ in owners}) == 1 and column in owners[0][2]:
                    where = (owners[0][0], owners[0][1])
                    if column not in by_table.setdefault(where, []):
                        by_table[where].append(column)
            for (schema, table), columns in by_table.items():
                columns = columns[:MAX_COLUMNS]
                for key in [(c,) for c in columns] + list(itertools.permutations(columns, 2)):
                    name = fit_name(f"ix_{table}_{'_'.join(key)}")
                    reason = "a column the query's conditions compare (joins included)"
                    found.append((Suggestion(schema, table, name, key, reason=reason),
                                  profile.key))  # fmt: skip
    return found
