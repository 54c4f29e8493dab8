"""The scratch database a trace runs on by default, and rows for its tables.

A rewrite or a validating scan shows in the catalog even on an empty table, but how long it
takes, and how many rows a data change touches, only show with rows. Before each traced
revision every table that is still empty gets ``rows`` synthetic rows: one
``INSERT ... SELECT ... FROM generate_series`` per table, built with ``psycopg.sql`` from the
catalog (column types by OID, foreign keys by attnum, parents first), each in a savepoint so
a table whose CHECKs or triggers refuse the rows is left empty and reported, never fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind
from pglast.parser import ParseError
from pglast.visitors import Visitor
from psycopg import sql

from dbtune.errors import first_line
from dbtune.reference import embedded

SCRATCH_DATABASE = "dbtune_trace"

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  AND NOT (c.oid = ANY(%(skip)s::oid[]))
ORDER BY c.oid
"""

_COLUMNS = """
SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typtype,
       t.typcategory, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_FOREIGN_KEYS = """
SELECT k.conkey, k.confrelid, k.confkey, n.nspname, c.relname,
       (SELECT array_agg(a.attname ORDER BY x.i) FROM unnest(k.confkey) WITH ORDINALITY x(n, i)
        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n)
FROM pg_constraint AS k
JOIN pg_class AS c ON c.oid = k.confrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE k.conrelid = %(oid)s AND k.contype = 'f'
"""


_CHECKS = """
SELECT k.conkey[1], pg_get_constraintdef(k.oid)
FROM pg_constraint AS k
WHERE k.conrelid = %(oid)s AND k.contype = 'c' AND cardinality(k.conkey) = 1
"""


class _Constants(Visitor):
    """The string constants of an ``IN (...)`` list or an ``= ANY (ARRAY[...])``."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def visit(self, ancestors: object, node: ast.Node) -> None:
        if isinstance(node, ast.A_ArrayExpr):
            elements = node.elements or ()
        elif isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_IN:
            elements = node.rexpr if isinstance(node.rexpr, tuple) else ()
        else:
            return
        for element in elements:
            while isinstance(element, ast.TypeCast):
                element = element.arg
            if isinstance(element, ast.A_Const) and isinstance(element.val, ast.String):
                self.found.append(str(element.val.sval))


def allowed_value(check_definition: str) -> str | None:
    """A value a one-column CHECK of the ``col IN ('a', 'b')`` kind accepts (how enums are
    often spelled), read from the parse tree of ``pg_get_constraintdef``; else None."""
    condition = check_definition.strip()
    if not condition.upper().startswith("CHECK"):
        return None
    try:
        tree = parse_sql(f"SELECT 1 WHERE {condition[5:]}")  # parsed, never run
    except ParseError:
        return None
    constants = _Constants()
    if tree and tree[0].stmt is not None:
        constants(tree[0].stmt)
    return constants.found[0] if constants.found else None


def scratch_url() -> str:
    """A fresh database on the embedded server (dropped and created again each run)."""
    server = embedded.start()
    return embedded.ensure_database(server, SCRATCH_DATABASE, fresh=True)


@dataclass(frozen=True, slots=True)
class _Column:
    attnum: int
    name: str
    type_sql: str
    typname: str
    typtype: str
    category: str
    not_null: bool
    has_default: bool


def _value(column: _Column, allowed: str | None = None) -> sql.Composable | None:
    """An expression of ``g`` (1..rows) for the column's type (``allowed``, when a CHECK names
    the values it accepts); None when none is known."""
    cast = sql.SQL(column.type_sql)
    if allowed is not None:
        return sql.SQL("({})::{}").format(sql.Literal(allowed), cast)
    by_category = {
        "N": sql.SQL("g"),
        "S": sql.SQL("'v' || g"),
        "B": sql.SQL("g % 2 = 0"),
        "D": sql.SQL("timestamptz '2026-01-01' + g * interval '1 minute'"),
        "T": sql.SQL("g * interval '1 second'"),
        "A": sql.SQL("'{}'"),
    }
    if column.typname in ("numeric", "float4", "float8", "money"):
        expression: sql.Composable = sql.SQL("g % 100")
    elif column.typname == "uuid":
        expression = sql.SQL("md5(g::text)::uuid")
    elif column.typname in ("json", "jsonb"):
        expression = sql.SQL("'{}'")
    elif column.typname == "bytea":
        expression = sql.SQL("'\\x00'")
    elif column.typtype == "e":
        expression = sql.SQL("(enum_range(NULL::{}))[1]").format(cast)
    elif column.category in by_category:
        expression = by_category[column.category]
    else:
        return None
    return sql.SQL("({})::{}").format(expression, cast)


@dataclass
class _Insert:
    """The INSERT ... SELECT being built: its columns, their values, the parents joined."""

    names: list[sql.Composable] = field(default_factory=list)
    values: list[sql.Composable] = field(default_factory=list)
    joins: list[sql.Composable] = field(default_factory=list)
    covered: set[int] = field(default_factory=set)  # attnums already given a value

    def statement(self, schema: str, table: str, rows: int) -> sql.Composed:
        if not self.names:
            return sql.SQL("INSERT INTO {} SELECT FROM generate_series(1, {}) AS g").format(
                sql.Identifier(schema, table), sql.Literal(rows)
            )
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM generate_series(1, {}) AS g{}").format(
            sql.Identifier(schema, table), sql.SQL(", ").join(self.names),
            sql.SQL(", ").join(self.values), sql.Literal(rows), sql.SQL("").join(self.joins),
        )  # fmt: skip


def _parents(
    conn: psycopg.Connection[Any], oid: int, columns: list[_Column], insert: _Insert
) -> None:
    """Foreign key columns take their parent's rows in turn (a join on the row number)."""
    by_attnum = {c.attnum: c for c in columns}
    for number, (conkey, parent_oid, _, pschema, pname, pcols) in enumerate(
        conn.execute(_FOREIGN_KEYS, {"oid": oid}).fetchall()
    ):
        if parent_oid == oid or set(conkey) & insert.covered:
            continue
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(pschema, pname))
        ).fetchone()
        parents = int(count[0]) if count else 0
        if parents == 0:
            continue  # nullable columns stay NULL; a NOT NULL one makes the INSERT fail
        alias = sql.Identifier(f"p{number}")
        insert.joins.append(
            sql.SQL(
                " JOIN (SELECT {}, row_number() OVER () - 1 AS rn FROM {}) AS {} "
                "ON {}.rn = (g - 1) % {}"
            ).format(
                sql.SQL(", ").join(sql.Identifier(c) for c in pcols),
                sql.Identifier(pschema, pname), alias, alias, sql.Literal(parents),
            )
        )  # fmt: skip
        for attnum, pcol in zip(conkey, pcols, strict=True):
            insert.names.append(sql.Identifier(by_attnum[attnum].name))
            insert.values.append(sql.SQL("{}.{}").format(alias, sql.Identifier(pcol)))
            insert.covered.add(attnum)


def _fill(conn: psycopg.Connection[Any], oid: int, schema: str, table: str, rows: int) -> str:
    """Insert ``rows`` rows into one empty table; '' or why it stayed empty."""
    columns = [_Column(*r) for r in conn.execute(_COLUMNS, {"oid": oid}).fetchall()]
    allowed = {
        int(attnum): accepted
        for attnum, definition in conn.execute(_CHECKS, {"oid": oid}).fetchall()
        if (accepted := allowed_value(str(definition))) is not None
    }
    insert = _Insert()
    _parents(conn, oid, columns, insert)
    for column in columns:
        if column.attnum in insert.covered or column.has_default:
            continue
        value = _value(column, allowed.get(column.attnum))
        if value is None:
            if column.not_null:
                return f"no value for column {column.name} of type {column.type_sql}"
            continue
        insert.names.append(sql.Identifier(column.name))
        insert.values.append(value)
    try:
        with conn.transaction():
            conn.execute(insert.statement(schema, table, rows))
    except psycopg.Error as exc:
        return first_line(exc)
    return ""


def fill_empty_tables(
    conn: psycopg.Connection[Any], rows: int, skip: Sequence[int], done: set[int],
    filled: set[int] | None = None,
) -> list[str]:  # fmt: skip
    """Give every empty table not in ``done`` ``rows`` rows, parents before children (passes
    until nothing more can be filled); returns why each table that stayed empty did, and adds
    the tables it filled to ``filled``. ``conn`` is in autocommit: each table is its own
    transaction."""
    left: list[str] = []
    tables = [
        (int(o), str(s), str(t))
        for o, s, t in conn.execute(_TABLES, {"skip": list(skip)}).fetchall()
        if int(o) not in done
    ]
    failures: dict[int, str] = {}
    progress = True
    while progress:
        progress = False
        for oid, schema, table in tables:
            if oid in done:
                continue
            has_rows = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(schema, table))
            ).fetchone()
            if has_rows and has_rows[0]:
                done.add(oid)
                continue
            with conn.transaction():
                why = _fill(conn, oid, schema, table, rows)
            if why:
                failures[oid] = f"{sql.Identifier(schema, table).as_string(conn)}: {why}"
            else:
                done.add(oid)
                if filled is not None:
                    filled.add(oid)
                failures.pop(oid, None)
                progress = True
    for oid, why in failures.items():
        done.add(oid)
        left.append(why)
    if tables:
        conn.execute("ANALYZE")
    return left


_REFERENCING = """
WITH RECURSIVE referencing(oid) AS (
    SELECT unnest(%(oids)s::oid[])
    UNION
    SELECT k.conrelid FROM pg_constraint AS k JOIN referencing AS r ON k.confrelid = r.oid
    WHERE k.contype = 'f'
)
SELECT r.oid, n.nspname, c.relname FROM referencing AS r
JOIN pg_class AS c ON c.oid = r.oid JOIN pg_namespace AS n ON n.oid = c.relnamespace
ORDER BY r.oid
"""
"""The tables dbtune filled and every table whose foreign keys reach them, however far."""


def empty_again(conn: psycopg.Connection[Any], oids: Sequence[int]) -> str:
    """TRUNCATE the tables dbtune filled (they were empty before it did), with every table
    whose foreign keys reach them when those are empty too, in one statement so the keys
    hold; '' or why it could not (a table of real rows references one of them, say)."""
    found = conn.execute(_REFERENCING, {"oids": list(oids)}).fetchall()
    if not found:
        return "its tables are gone"
    tables = {int(oid): sql.Identifier(str(s), str(t)) for oid, s, t in found}
    for oid, table in tables.items():
        if oid in oids:
            continue
        has_rows = conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(table))
        if has_rows.fetchone() == (True,):
            return (
                f"{table.as_string(conn)} holds rows of its own and references the tables "
                "dbtune filled"
            )
    statement = sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(tables.values()))
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        return first_line(exc)
    return ""
