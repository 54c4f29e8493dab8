"""What a query asks of each table, read from its parse tree: the columns it compares and how,
the ORDER BY, the columns it returns, and the comparisons no plain index on a column can serve.

The advisor proposes an index from this, and the hints decide "not sargable" from it — never
from the plan's text, where PostgreSQL prints ``(status)::text`` for every ``varchar`` column
compared with a string, which is harmless. Only the top-level ``SELECT`` (or the ``WHERE`` of
an ``UPDATE``/``DELETE``) is read; AND-ed conditions are understood, an OR branch is not an
index's business and is left out. Names are as the parse tree gives them: unquoted names
folded to lower case, quoted ones exact, which is how the catalog spells them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pglast import ast
from pglast.enums.parsenodes import A_Expr_Kind, SortByDir
from pglast.enums.primnodes import BoolExprType, NullTestType
from pglast.stream import RawStream

from dbtune.sql.text import positional, shared_tree, squashed_parameters

Kind = Literal["eq", "in", "range", "null", "bool", "prefix"]
ObstacleKind = Literal["function", "operator", "cast", "leading wildcard"]

_RANGE_OPERATORS = frozenset({"<", ">", "<=", ">="})
_ORDER_OPERATORS = _RANGE_OPERATORS | {"="}


@dataclass(frozen=True, slots=True)
class Condition:
    """A comparison an index on ``column`` can serve."""

    column: str
    kind: Kind
    constant: bool  # compared with literals only: a partial index's WHERE could hold it
    text: str  # the condition as SQL, e.g. ``status = 'open'``


@dataclass(frozen=True, slots=True)
class Obstacle:
    """A comparison that wraps ``column`` (a function, an operator, a cast) or a LIKE pattern
    that starts with a wildcard: no index on the bare column serves it."""

    column: str
    kind: ObstacleKind
    expression: str  # the column side as SQL, e.g. ``lower(email)``
    text: str  # the whole condition
    cast_to: str | None = None  # the type of a cast, for deciding whether it is harmless


@dataclass(frozen=True, slots=True)
class TableUse:
    """One table of the query (its FROM entry) and what the query does with it."""

    schema: str | None
    name: str
    alias: str | None
    conditions: tuple[Condition, ...] = ()
    obstacles: tuple[Obstacle, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (column, descending): all of this table's
    selected: tuple[str, ...] | None = ()  # None: every column (``*``) or not known
    filtered: bool = False
    """A condition of the WHERE reads this table's columns and no other table's (an OR, a
    function, a leading wildcard included): the query does not want every row of it, whether
    or not an index could serve the condition. A join condition alone leaves it False."""


@dataclass(frozen=True, slots=True)
class QueryShape:
    tables: tuple[TableUse, ...] = ()
    order_by_count: int = 0  # the ORDER BY items, whatever they are
    distinct: bool = False
    limit: bool = False
    visits_rows: bool = False  # FOR UPDATE/SHARE, UPDATE, DELETE: every row is read from the heap

    def table(self, name: str) -> TableUse | None:
        return next((t for t in self.tables if t.name == name), None)


def _column_refs(value: object) -> Iterator[ast.ColumnRef]:
    if isinstance(value, ast.ColumnRef):
        yield value
    elif isinstance(value, ast.Node):
        for name in value:
            yield from _column_refs(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _column_refs(item)


def _sql(node: object) -> str:
    """The node as SQL with bare column names: what an index's WHERE or expression holds.
    The qualifiers are taken off for the rendering and put back (a deep copy of the tree
    would cost more than the rest of the analysis)."""
    assert isinstance(node, ast.Node)
    refs = [(ref, ref.fields) for ref in _column_refs(node)]
    try:
        for ref, fields_ in refs:
            ref.fields = (fields_ or ())[-1:]
        return str(RawStream()(node))
    finally:
        for ref, fields_ in refs:
            ref.fields = fields_


def _column(node: object) -> tuple[str | None, str] | None:
    """``(qualifier, name)`` of a plain column reference."""
    if not isinstance(node, ast.ColumnRef) or not node.fields:
        return None
    names = [str(f.sval) for f in node.fields if isinstance(f, ast.String)]
    if len(names) != len(node.fields):
        return None  # t.*
    return (names[-2] if len(names) > 1 else None), names[-1]


def _constant(node: object) -> bool:
    """A literal, a list of literals, or a cast of one: what a partial index's WHERE can name."""
    if isinstance(node, ast.A_Const):
        return True
    if isinstance(node, ast.TypeCast):
        return _constant(node.arg)
    if isinstance(node, tuple | list):
        return all(_constant(n) for n in node)
    return False


def _free_of_columns(node: object) -> bool:
    """No column reference inside: a parameter, a literal, ``now() - interval '1 day'``."""
    return next(_column_refs(node), None) is None


def _inner_column(node: object) -> tuple[str | None, str] | None:
    """The column a plain reference names, or the one a wrapping expression holds."""
    column = _column(node)
    if column is not None:
        return column
    wrapped = _wrapped_column(node)
    return wrapped[0] if wrapped else None


Wrapped = tuple[tuple[str | None, str], ObstacleKind, str | None]


def _wrapped_column(node: object) -> Wrapped | None:
    """A column under a function, an operator or a cast: ``lower(email)``, ``ts + interval``,
    ``(ts)::date``; with the kind, and the cast's type."""
    if isinstance(node, ast.TypeCast):
        inner = _column(node.arg)
        if inner is not None and node.typeName is not None:
            names = [str(n.sval) for n in node.typeName.names or () if isinstance(n, ast.String)]
            return inner, "cast", ".".join(names).removeprefix("pg_catalog.")
        return _wrapped_column(node.arg)
    if isinstance(node, ast.FuncCall):
        for arg in node.args or ():
            inner = _inner_column(arg)
            if inner is not None:
                return inner, "function", None
    elif isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
        for side in (node.lexpr, node.rexpr):
            inner = _inner_column(side)
            if inner is not None:
                return inner, "operator", None
    return None


@dataclass
class _Found:
    conditions: list[tuple[str | None, Condition]] = field(default_factory=list)
    obstacles: list[tuple[str | None, Obstacle]] = field(default_factory=list)
    squashed: frozenset[int] = frozenset()  # $n locations that stand for a whole IN list


def _operator(expr: ast.A_Expr) -> str:
    names = [str(n.sval) for n in expr.name or () if isinstance(n, ast.String)]
    return names[-1] if names else ""


def _comparison(expr: ast.A_Expr, found: _Found) -> None:
    """What one comparison asks of a column: a condition an index serves, or an obstacle."""
    kind = expr.kind
    if kind == A_Expr_Kind.AEXPR_OP and _operator(expr) in _ORDER_OPERATORS:
        _ordered(expr, found)
    elif kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and _operator(expr) == "=":
        _in_list(expr, found)
    elif kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM):
        column = _column(expr.lexpr)
        if column is not None and _free_of_columns(expr.rexpr):
            found.conditions.append(
                (column[0], Condition(column[1], "range", _constant(expr.rexpr), _sql(expr)))
            )
    elif kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE) and _operator(expr) in (
        "~~",
        "~~*",
    ):
        _like(expr, found)


def _ordered(expr: ast.A_Expr, found: _Found) -> None:
    """``column op value`` or ``value op column``: equality or range; a wrapped column an
    obstacle."""
    left, right = expr.lexpr, expr.rexpr
    for col_side, value_side in ((left, right), (right, left)):
        column = _column(col_side)
        if column is not None and _free_of_columns(value_side):
            what: Kind = "eq" if _operator(expr) == "=" else "range"
            found.conditions.append(
                (column[0], Condition(column[1], what, _constant(value_side), _sql(expr)))
            )
            return
        wrapped = _wrapped_column(col_side)
        if wrapped is not None and _free_of_columns(value_side):
            (qualifier, name), why, cast_to = wrapped
            found.obstacles.append(
                (qualifier, Obstacle(name, why, _sql(col_side), _sql(expr), cast_to))
            )
            return


def _in_list(expr: ast.A_Expr, found: _Found) -> None:
    """``column IN (...)`` / ``= ANY(...)``: IN (one value) is an equality; more values, or
    = ANY(array), are several, and so is pg_stat_statements' folded list, IN ($2 /*, ... */)."""
    left, right = expr.lexpr, expr.rexpr
    column = _column(left)
    if column is None or not _free_of_columns(right):
        return
    one = (
        isinstance(right, tuple | list)
        and len(right) == 1
        and not (isinstance(right[0], ast.ParamRef) and right[0].location in found.squashed)
    )
    condition = Condition(column[1], "eq" if one else "in", _constant(right), _sql(expr))
    found.conditions.append((column[0], condition))


def _like(expr: ast.A_Expr, found: _Found) -> None:
    """``LIKE 'abc%'`` a prefix an index serves; a leading wildcard an obstacle."""
    kind, left, right = expr.kind, expr.lexpr, expr.rexpr
    column = _column(left)
    pattern = (
        str(right.val.sval)
        if isinstance(right, ast.A_Const) and isinstance(right.val, ast.String)
        else None
    )
    if column is None or pattern is None:
        return
    if pattern.startswith(("%", "_")):
        found.obstacles.append(
            (column[0], Obstacle(column[1], "leading wildcard", _sql(left), _sql(expr)))
        )
    elif kind == A_Expr_Kind.AEXPR_LIKE:
        found.conditions.append((column[0], Condition(column[1], "prefix", True, _sql(expr))))


def _conditions(node: object, found: _Found) -> None:
    if isinstance(node, ast.BoolExpr):
        if node.boolop == BoolExprType.AND_EXPR:
            for arg in node.args or ():
                _conditions(arg, found)
        elif node.boolop == BoolExprType.NOT_EXPR and node.args:
            column = _column(node.args[0])
            if column is not None:
                found.conditions.append((column[0], Condition(column[1], "bool", True, _sql(node))))
    elif isinstance(node, ast.A_Expr):
        _comparison(node, found)
    elif isinstance(node, ast.NullTest):
        column = _column(node.arg)
        if column is not None:
            kind: Kind = "null" if node.nulltesttype == NullTestType.IS_NULL else "range"
            found.conditions.append((column[0], Condition(column[1], kind, True, _sql(node))))
    elif isinstance(node, ast.ColumnRef):
        column = _column(node)
        if column is not None:
            found.conditions.append((column[0], Condition(column[1], "bool", True, _sql(node))))


def _conjuncts(node: object) -> Iterator[object]:
    """The AND-ed parts of a WHERE clause."""
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        for arg in node.args or ():
            yield from _conjuncts(arg)
    elif node is not None:
        yield node


def _filtered(where: object, tables: list[ast.RangeVar]) -> set[int]:
    """``id()`` of each table some AND-ed condition reads alone (see ``TableUse.filtered``)."""
    found: set[int] = set()
    for part in _conjuncts(where):
        columns = [_column(ref) for ref in _column_refs(part)]
        owners = [_owner(c[0], tables) if c is not None else None for c in columns]
        if owners and None not in owners and len({id(o) for o in owners}) == 1:
            found.add(id(owners[0]))
    return found


def _from_tables(items: object) -> Iterator[ast.RangeVar]:
    if isinstance(items, ast.RangeVar):
        yield items
    elif isinstance(items, ast.JoinExpr):
        yield from _from_tables(items.larg)
        yield from _from_tables(items.rarg)
    elif isinstance(items, tuple | list):
        for item in items:
            yield from _from_tables(item)


def _owner(qualifier: str | None, tables: list[ast.RangeVar]) -> ast.RangeVar | None:
    """The FROM entry a column belongs to: by alias or name, or the only table there is."""
    if qualifier is None:
        return tables[0] if len(tables) == 1 else None
    for table in tables:
        alias = table.alias.aliasname if table.alias else None
        if qualifier == (alias or table.relname):
            return table
    return None


def _selected(
    targets: object, owner: ast.RangeVar, tables: list[ast.RangeVar]
) -> tuple[str, ...] | None:
    names: list[str] = []
    for target in targets if isinstance(targets, tuple) else ():
        value = target.val if isinstance(target, ast.ResTarget) else None
        if isinstance(value, ast.ColumnRef) and any(
            isinstance(f, ast.A_Star) for f in value.fields or ()
        ):
            return None
        column = _column(value)
        if column is not None:
            if _owner(column[0], tables) is owner and column[1] not in names:
                names.append(column[1])
        elif value is not None and not _free_of_columns(value):
            if _has_sublink(value):
                return None  # a subquery's columns are its own tables'
            # An expression (``sum(calories)``, ``a + b``): the columns it reads are selected.
            for ref in _column_refs(value):
                inner = _column(ref)
                if inner is None:
                    return None
                if _owner(inner[0], tables) is owner and inner[1] not in names:
                    names.append(inner[1])
    return tuple(names)


def _has_sublink(value: object) -> bool:
    if isinstance(value, ast.SubLink):
        return True
    if isinstance(value, ast.Node):
        return any(_has_sublink(getattr(value, name)) for name in value)
    if isinstance(value, tuple | list):
        return any(_has_sublink(item) for item in value)
    return False


def _order(sort_clause: Sequence[object]) -> list[tuple[str | None, str, bool]]:
    """The ORDER BY as (qualifier, column, descending); empty unless every item is a column."""
    order: list[tuple[str | None, str, bool]] = []
    for item in sort_clause:
        column = _column(item.node) if isinstance(item, ast.SortBy) else None
        if column is None or not isinstance(item, ast.SortBy):
            return []
        order.append((column[0], column[1], item.sortby_dir == SortByDir.SORTBY_DESC))
    return order


@lru_cache(maxsize=1024)  # a statement's shape never changes; explain and the plugin ask twice
def shape(statement: str) -> QueryShape:
    """What ``statement`` (workload SQL, named placeholders allowed) asks of each table.

    Raises :class:`~dbtune.sql.text.SqlTextError` unless it is one statement.
    """
    text = positional(statement)[0]
    stmt = shared_tree(text)
    if isinstance(stmt, ast.SelectStmt):
        from_clause, where, targets = stmt.fromClause, stmt.whereClause, stmt.targetList
    elif isinstance(stmt, ast.UpdateStmt | ast.DeleteStmt):
        from_clause, where, targets = (stmt.relation,), stmt.whereClause, ()
    else:
        return QueryShape()
    tables = list(_from_tables(from_clause))
    found = _Found(squashed=squashed_parameters(text))
    _conditions(where, found)
    filtered = _filtered(where, tables)
    sort_clause = getattr(stmt, "sortClause", None) or ()
    order = _order(sort_clause)
    uses = []
    for table in tables:

        def mine(qualifier: str | None, table: ast.RangeVar = table) -> bool:
            return _owner(qualifier, tables) is table

        owned_order = tuple((name, desc) for q, name, desc in order if mine(q))
        uses.append(
            TableUse(
                table.schemaname,
                str(table.relname),
                table.alias.aliasname if table.alias else None,
                tuple(c for q, c in found.conditions if mine(q)),
                tuple(o for q, o in found.obstacles if mine(q)),
                owned_order if len(owned_order) == len(order) else (),
                _selected(targets, table, tables) if targets else (),
                id(table) in filtered,
            )
        )
    return QueryShape(
        tuple(uses),
        len(sort_clause),
        bool(getattr(stmt, "distinctClause", None)),
        getattr(stmt, "limitCount", None) is not None,
        not isinstance(stmt, ast.SelectStmt) or bool(stmt.lockingClause),
    )
