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
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from pglast import ast

from dbtune.catalog import Column, Table, psycopg_runner, read_columns, read_tables
from dbtune.query.advice import Suggestion
from dbtune.sql.identifiers import fit_name
from dbtune.sql.text import (
    NamedRelation,
    SqlTextError,
    StatementInfo,
    analyse,
    nodes,
    statement_tree,
)
from dbtune.workload import QueryProfile

Connection = psycopg.Connection[tuple[Any, ...]]

MAX_COLUMNS = 4
"""Per table and query: the columns kept (first named first) before pairs are formed."""

Owner = tuple[str, str, frozenset[str]]
"""A table as the conditions see it: schema, name and its columns' names."""


def _compared(statement: ast.Node) -> list[tuple[str | None, str]]:
    """(qualifier, column) of every column that is an operand of a comparison (=, <, >,
    BETWEEN, IN, LIKE) anywhere in the statement."""
    found: list[tuple[str | None, str]] = []
    for node in nodes(statement):
        if not isinstance(node, ast.A_Expr):
            continue
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, ast.ColumnRef):
                names = [f.sval for f in side.fields or () if isinstance(f, ast.String)]
                if names:
                    found.append((str(names[-2]) if len(names) > 1 else None, str(names[-1])))
    return list(dict.fromkeys(found))


def _owners(conn: Connection, infos: Sequence[StatementInfo]) -> dict[NamedRelation, Owner]:
    """Every relation the statements name, with its columns: one catalog read for the whole
    workload (the unqualified names through the search_path, as the planner resolves them,
    apart from the qualified ones)."""
    named = {r for info in infos for r in info.relations}
    run = psycopg_runner(conn)
    found: dict[NamedRelation, Owner] = {}
    for batch in ([r for r in named if r.schema is None], [r for r in named if r.schema]):
        if batch:
            tables = read_tables(run, [], named=[(r.schema, r.name) for r in batch])
            columns = read_columns(run, list(tables))
            found |= {r: owner for r in batch if (owner := _owner(r, tables, columns))}
    return found


def _owner(
    relation: NamedRelation, tables: Mapping[int, Table], columns: Mapping[tuple[int, int], Column]
) -> Owner | None:
    for table in tables.values():
        if table.name == relation.name and relation.schema in (None, table.schema):
            if not table.is_table:
                return None
            own = frozenset(c.width.name for (oid, _), c in columns.items() if oid == table.oid)
            return (table.schema, table.name, own)
    return None


def condition_candidates(
    conn: Connection, profiles: Sequence[QueryProfile]
) -> list[tuple[Suggestion, str]]:
    """(candidate, the query it is for), single columns and ordered pairs, per table."""
    statements: dict[str, tuple[str, ast.Node, StatementInfo]] = {}
    for profile in profiles:
        if profile.query.name not in statements:
            try:
                sql_text = profile.query.sql
                tree = statement_tree(sql_text)
                statements[profile.query.name] = (profile.key, tree, analyse(sql_text))
            except SqlTextError:
                continue
    owners = _owners(conn, [info for _, _, info in statements.values()])
    found: list[tuple[Suggestion, str]] = []
    for key, tree, info in statements.values():
        tables = {called: owners[r] for called, r in info.called if r in owners}
        for (schema, table), columns in _compared_by_table(tree, tables).items():
            found += [(s, key) for s in _suggestions(schema, table, columns[:MAX_COLUMNS])]
    return found


def _compared_by_table(
    tree: ast.Node, tables: dict[str, Owner]
) -> dict[tuple[str, str], list[str]]:
    """The columns the statement compares, each given to the one table that has it."""
    by_table: dict[tuple[str, str], list[str]] = {}
    for qualifier, column in _compared(tree):
        owners = (
            [tables[qualifier]] if qualifier is not None and qualifier in tables
            else [t for t in tables.values() if column in t[2]]
        )  # fmt: skip
        if len({(s, t) for s, t, _ in owners}) == 1 and column in owners[0][2]:
            where = (owners[0][0], owners[0][1])
            if column not in by_table.setdefault(where, []):
                by_table[where].append(column)
    return by_table


def _suggestions(schema: str, table: str, columns: list[str]) -> list[Suggestion]:
    """Each column alone and each ordered pair."""
    reason = "a column the query's conditions compare (joins included)"
    keys = [(c,) for c in columns] + list(itertools.permutations(columns, 2))
    return [
        Suggestion(schema, table, fit_name(f"ix_{table}_{'_'.join(key)}"), key, reason=reason)
        for key in keys
    ]
