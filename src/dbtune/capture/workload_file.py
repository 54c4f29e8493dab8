"""Captured statements as a workload file: names, pickers, baseline expectations, ``--update``.

Each statement becomes a query checked as its *generic plan* (its SQL keeps pg_stat_statements'
``$n``), named ``<table>_<verb>_<fingerprint>``. A read whose every ``$n`` is compared with one
column (``col = $1``, ``col IN ($2, $3)``) also gets a ``<name>_custom`` twin with a picker per
parameter — the column's most frequent value, the heaviest case for a plan — so the custom plan
is checked too. The expectations are the **baseline**, the shape of what the plan does now:
``no_seq_scan`` where it reads an index and no table whole, ``index_only`` where it is,
``no_sort`` where there is no Sort. Never the index's name: a better index built later (the
advisor's own revision) must not fail the baseline that asked for it. The keys a capture wrote
are listed in the query's ``captured.baseline``; ``--update`` rewrites only those and keeps
every hand-written key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

import tomli_w
from pglast import ast, parse_sql
from pglast.enums.parsenodes import A_Expr_Kind
from pglast.parser import fingerprint
from pglast.visitors import Visitor
from psycopg import sql

from dbtune.capture.statements import Statement
from dbtune.plan import Plan
from dbtune.sql.identifiers import ident
from dbtune.sql.text import replace_parameters
from dbtune.workload import DEFAULT_PROFILE, Expectations, HotQuery, ParamPicker, Workload

BASELINE_KEYS = ("no_seq_scan", "index_only", "no_sort")
_VERBS = {"SelectStmt": "select", "InsertStmt": "insert", "UpdateStmt": "update",
          "DeleteStmt": "delete", "MergeStmt": "merge"}  # fmt: skip


def baseline(plan: Plan) -> dict[str, Any]:
    """What the plan does now, as expectations a regression would break: its *shape* (an
    index read and no Seq Scan, an index-only scan, no Sort), never the name of the index it
    happened to read, which the next better index (dbtune's own advice) would then fail."""
    found: dict[str, Any] = {}
    if plan.index_names() and "Seq Scan" not in plan.node_types():
        found["no_seq_scan"] = True
    if "Index Only Scan" in plan.node_types():
        found["index_only"] = True
    if not any(t in ("Sort", "Incremental Sort") for t in plan.node_types()):
        found["no_sort"] = True
    return found


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "q"


def statement_name(table: str, kind: str, text: str) -> str:
    """``<table>_<verb>_<first 6 hex of the parse-tree fingerprint>``: the name capture and
    the pytest plugin give a statement (``kind``: the parse node, e.g. ``SelectStmt``)."""
    return f"{_slug(table)}_{_VERBS.get(kind, 'query')}_{fingerprint(text)[:6]}"


def query_name(statement: Statement) -> str:
    return statement_name(statement.tables[0][1], statement.info.kind, statement.sql)


_PICKABLE_OPERATORS = frozenset({"=", "<", ">", "<=", ">="})
_PICKABLE_KINDS = frozenset({A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY})
"""``col = $1``, ``col < $1``, ``col IN ($1, $2)``, ``col = ANY($1)``: a value to pick."""


class _ParamColumns(Visitor):
    """Each ``$n``; the plain column it is compared with, or the LIMIT/OFFSET it is; and the
    FROM entries' aliases, to tell whose column ``o.status`` is."""

    def __init__(self) -> None:
        self.columns: dict[int, tuple[str | None, str]] = {}
        self.clauses: dict[int, str] = {}  # $n -> "limit" | "offset"
        self.all: set[int] = set()
        self.aliases: dict[str, str] = {}  # alias (or name) -> table name

    def visit_ParamRef(self, ancestors: object, node: ast.ParamRef) -> None:
        number = int(node.number or 0)
        self.all.add(number)

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        name = str(node.relname)
        self.aliases[str(node.alias.aliasname) if node.alias else name] = name

    def visit_SelectStmt(self, ancestors: object, node: ast.SelectStmt) -> None:
        for clause, value in (("limit", node.limitCount), ("offset", node.limitOffset)):
            if isinstance(value, ast.ParamRef):
                self.clauses[int(value.number or 0)] = clause

    def visit_A_Expr(self, ancestors: object, node: ast.A_Expr) -> None:
        names = [str(n.sval) for n in node.name or () if isinstance(n, ast.String)]
        operator = names[-1] if names else ""
        if node.kind in _PICKABLE_KINDS and operator in _PICKABLE_OPERATORS:
            for column, value in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
                if isinstance(column, ast.ColumnRef):
                    self._compared(column, value)

    def _compared(self, column: ast.ColumnRef, value: object) -> None:
        fields_ = [str(f.sval) for f in column.fields or () if isinstance(f, ast.String)]
        if not fields_:
            return
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, ast.ParamRef):
                qualifier = fields_[-2] if len(fields_) > 1 else None
                self.columns[int(item.number or 0)] = (qualifier, fields_[-1])


def _most_frequent(schema: str, table: str, column: str) -> str:
    """A picker: the column's most frequent value."""
    return (
        sql.SQL(
            "SELECT /* dbtune */ {col} FROM {table} WHERE {col} IS NOT NULL GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        .format(col=ident(column), table=ident(schema, table))
        .as_string()
    )


def _custom(statement: Statement, name: str) -> HotQuery | None:
    """The custom-plan twin — what a driver that sends literals (psycopg2, SQLAlchemy over it)
    has planned on every call — with named parameters and pickers, when every ``$n`` can be
    picked: a column it is compared with (the column's most frequent value, on whichever table
    of the FROM the column's qualifier names), or the LIMIT (the rows a call returned, on
    average) or OFFSET (0)."""
    if statement.info.kind != "SelectStmt":
        return None
    tree = parse_sql(statement.sql)[0].stmt
    found = _ParamColumns()
    if tree is not None:
        found(tree)
    if not found.all:
        return None
    by_name = {t: (schema, t) for schema, t in statement.tables}
    names: dict[int, str] = {}
    pickers: dict[str, ParamPicker] = {}
    for n in sorted(found.all):
        if n in found.clauses:
            clause = found.clauses[n]
            names[n] = f"{clause}_{n}"
            rows = round(statement.rows / max(statement.calls, 1))
            pickers[names[n]] = ParamPicker(literal=max(rows, 1) if clause == "limit" else 0)
            continue
        if n not in found.columns:
            return None
        qualifier, column = found.columns[n]
        if qualifier is None:
            tables = set(found.aliases.values())
            table = by_name.get(next(iter(tables))) if len(tables) == 1 else None
        else:
            table = by_name.get(found.aliases.get(qualifier, qualifier))
        if table is None:
            return None
        names[n] = f"{_slug(column)}_{n}"
        pickers[names[n]] = ParamPicker(sql=_most_frequent(*table, column))
    return HotQuery(
        name=f"{name}_custom",
        sql=replace_parameters(statement.sql, lambda n: f"%({names[n]})s", escape_percent=True),
        description=(
            f"{name} with picked values, planned as a custom plan: what a driver that sends "
            "literals (psycopg2, SQLAlchemy over it) runs on every call"
        ),
        params=pickers,
    )


def _captured(statement: Statement) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(statement.sql),
        "calls": statement.calls,
        "mean_ms": round(statement.mean_ms, 3),
        "total_ms": round(statement.total_ms, 1),
    }


def captured_queries(statements: Sequence[Statement], *, pickers: bool = True) -> list[HotQuery]:
    """A query per statement (checked as a generic plan), plus custom-plan twins."""
    queries: list[HotQuery] = []
    names: set[str] = set()
    for statement in statements:
        name = query_name(statement)
        while name in names:  # two fingerprints that share their first six hex digits
            name += "_"
        names.add(name)
        queries.append(
            HotQuery(
                name=name,
                sql=statement.sql.replace("%", "%%"),
                description=(
                    f"captured from pg_stat_statements (queryid {statement.queryid}); its generic "
                    "plan: what a driver that prepares runs after five executions (psycopg 3, "
                    "asyncpg)"
                ),
                dollar_parameters=statement.info.dollar_parameters,
                captured=_captured(statement),
            )
        )
        twin = _custom(statement, name) if pickers else None
        if twin is not None:
            queries.append(replace(twin, captured=_captured(statement)))
    return queries


def with_baselines(queries: Sequence[HotQuery], plans: Mapping[str, Plan | None]) -> list[HotQuery]:
    """Each query with the baseline of its plan (``plans`` by query name) as expectations."""
    done = []
    for query in queries:
        plan = plans.get(query.name)
        found = baseline(plan) if plan is not None else {}
        captured = {**query.captured, "baseline": sorted(found)}
        done.append(replace(query, expect=Expectations(**found), captured=captured))
    return done


def merged(existing: Workload, fresh: Sequence[HotQuery]) -> list[HotQuery]:
    """``--update``: fresh baselines for the queries already in the file (by fingerprint and
    name), hand-written expectations kept; new queries appended; the others left as they are."""
    by_key = {(q.captured.get("fingerprint"), q.name): q for q in fresh}
    result: list[HotQuery] = []
    used: set[tuple[Any, str]] = set()
    for query in existing.queries:
        key = (query.captured.get("fingerprint"), query.name)
        new = by_key.get(key)
        if new is None:
            result.append(query)
            continue
        used.add(key)
        old_baseline = set(query.captured.get("baseline", ()))
        kept = {
            f.name: getattr(query.expect, f.name)
            for f in fields(Expectations)
            if f.name not in old_baseline and f.name not in new.captured.get("baseline", ())
            and getattr(query.expect, f.name) != getattr(Expectations(), f.name)
        }  # fmt: skip
        expect = replace(new.expect, **kept)
        result.append(replace(query, sql=new.sql, expect=expect, captured=new.captured))
    result += [q for q in fresh if (q.captured.get("fingerprint"), q.name) not in used]
    return result


def _picker(picker: ParamPicker) -> Any:
    return {"sql": picker.sql} if picker.sql is not None else picker.literal


def render(queries: Sequence[HotQuery], header: str) -> str:
    """The workload as TOML, every query in the format :mod:`dbtune.workload` reads."""
    default = Expectations()
    documents = []
    for q in queries:
        entry: dict[str, Any] = {"name": q.name}
        if q.description:
            entry["description"] = q.description
        entry["sql"] = q.sql
        if q.params:
            entry["params"] = {k: _picker(v) for k, v in q.params.items()}
        if q.profiles and set(q.profiles) != {DEFAULT_PROFILE}:
            entry["profiles"] = {
                p: {k: _picker(v) for k, v in ps.items()} for p, ps in q.profiles.items()
            }
        expect = {
            f.name: getattr(q.expect, f.name)
            for f in fields(Expectations)
            if getattr(q.expect, f.name) != getattr(default, f.name)
        }
        if expect:
            entry["expect"] = expect
        if q.captured:
            entry["captured"] = dict(q.captured)
        documents.append(entry)
    body = tomli_w.dumps({"query": documents}, multiline_strings=True)
    return "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + "\n" + body
