"""SQL text understood with the server's own grammar (pglast, i.e. libpg_query).

dbtune runs SQL that users wrote — workload queries and parameter pickers — inside a read-only,
rolled-back transaction. That guarantee holds only for exactly one statement: ``SELECT 1;
ROLLBACK; DELETE ...`` ends the transaction and commits the DELETE. Whether a statement reads,
writes or locks is decided from its parse tree (data-modifying CTEs included), never from its
first keyword or a regular expression, which a string literal such as ``'update'`` fools.

Workload SQL carries psycopg's named placeholders (``%(user_id)s``), which are not SQL; they are
turned into ``$n`` parameters before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

from pglast import ast, parse_sql
from pglast.enums.primnodes import CoercionForm
from pglast.parser import ParseError, scan
from pglast.stream import RawStream
from pglast.visitors import Visitor

_NAMED = re.compile(r"%\((\w+)\)s|%%")

_WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


class SqlTextError(ValueError):
    """The text is not exactly one statement the server would accept."""


class Access(StrEnum):
    """What running a statement does to the data."""

    READ = "read"
    LOCKING = "locking read"  # SELECT ... FOR UPDATE/SHARE: takes row locks, changes nothing
    WRITE = "write"
    OTHER = "other"  # utility statements (DDL, SET, COPY, ...): never run by explain


@dataclass(frozen=True, slots=True)
class NamedRelation:
    schema: str | None
    name: str


@dataclass(frozen=True, slots=True)
class StatementInfo:
    """One parsed statement: what it does and what it names."""

    access: Access
    kind: str  # the parse node's name, e.g. "SelectStmt"
    relations: tuple[NamedRelation, ...]
    functions: tuple[str, ...]
    dollar_parameters: int = 0
    """The highest ``$n`` the text itself uses (pg_stat_statements' normalized form), 0 if
    none; named ``%(name)s`` placeholders are not counted."""
    called: tuple[tuple[str, NamedRelation], ...] = ()
    """How a column reference qualifies each relation: its alias, else its name."""


OWN_MARKER = "/* dbtune */"
"""The comment in dbtune's own statements (seed, bench), which capture leaves out. Inside the
statement, not before it: pg_stat_statements keeps only the statement's own text."""


def with_own_marker(statement: str) -> str:
    """``statement`` with :data:`OWN_MARKER` after its first token (where pg_stat_statements
    keeps it), unless it has the marker already: for SQL dbtune runs but did not write, such
    as a workload's parameter pickers."""
    if OWN_MARKER in comments(statement):
        return statement
    try:
        tokens = scan(statement)
    except ParseError:  # not SQL the scanner takes: the server will say so
        return statement
    if not tokens:
        return statement
    cut = tokens[0].end + 1
    return f"{statement[:cut]} {OWN_MARKER}{statement[cut:]}"


def comments(statement: str) -> list[str]:
    """The ``/* ... */`` and ``-- ...`` comments of a statement, found by the server's own
    scanner (so a ``/*`` inside a string literal is not one)."""
    try:
        tokens = scan(statement)
    except ParseError:
        return []
    return [
        statement[t.start : t.end + 1].strip()
        for t in tokens
        if t.name in ("C_COMMENT", "SQL_COMMENT")
    ]


SQUASHED_LIST = "/*, ... */"
"""How pg_stat_statements (PostgreSQL 18) writes an IN list of constants it folded into one."""


def squashed_parameters(text: str) -> frozenset[int]:
    """Byte locations of the ``$n`` that stand for a whole folded IN list (``$2 /*, ... */``)."""
    try:
        tokens = scan(text)
    except ParseError:
        return frozenset()
    raw = text.encode()
    return frozenset(
        before.start
        for before, token in pairwise(tokens)
        if before.name == "PARAM"
        and token.name == "C_COMMENT"
        and raw[token.start : token.end + 1].decode() == SQUASHED_LIST
    )


def replace_parameters(
    text: str, render: Callable[[int], str], *, escape_percent: bool = False
) -> str:
    """Every ``$n`` of ``text`` replaced by ``render(n)``, found by the parser (so never one
    inside a literal or a comment); with ``escape_percent`` every other ``%`` doubled, as
    psycopg's named-parameter text needs. Raises :class:`SqlTextError` on text that does not
    parse."""
    spots: list[tuple[int, int]] = []

    class Params(Visitor):
        def visit_ParamRef(self, ancestors: object, node: ast.ParamRef) -> None:
            spots.append((int(node.location or 0), int(node.number or 0)))

    try:
        Params()(parse_sql(text))
    except ParseError as exc:
        raise SqlTextError(f"not valid SQL: {exc}") from None
    raw, out, last = text.encode(), [], 0

    def plain(part: bytes) -> str:
        return part.decode().replace("%", "%%") if escape_percent else part.decode()

    for at, number in sorted(spots):  # locations are byte offsets, as libpg_query counts
        out.append(plain(raw[last:at]))
        out.append(render(number))
        last = at + len(f"${number}".encode())
    out.append(plain(raw[last:]))
    return "".join(out)


def positional(statement: str) -> tuple[str, list[str]]:
    """``%(name)s`` placeholders -> ``$1, $2, ...`` (and ``%%`` -> ``%``)."""
    order: list[str] = []

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAMED.sub(swap, statement), order


_TYPED_LITERAL_TYPES = frozenset({"INTERVAL", "TIMESTAMP", "TIME", "DATE", "IDENT"})
"""Tokens that, right before a ``$n``, are pg_stat_statements' rewrite of a typed literal
(``INTERVAL '1 day'`` -> ``INTERVAL $1``): a form the server's grammar refuses."""


class _ExtractToDatePart(Visitor):
    """``EXTRACT($n FROM x)`` -> ``pg_catalog.date_part($n, x)``: the same value (a double
    rather than a numeric on 14+) and the same plan, in a form the server parses."""

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        names = [str(n.sval) for n in node.funcname or ()]
        if names[-1:] == ["extract"] and node.args and isinstance(node.args[0], ast.ParamRef):
            node.funcname = (ast.String(sval="pg_catalog"), ast.String(sval="date_part"))
            node.funcformat = CoercionForm.COERCE_EXPLICIT_CALL


def servable(text: str) -> str:
    """``text`` (pg_stat_statements' normalized form) as SQL the server parses.

    pg_stat_statements writes ``$n`` for every constant, also where the grammar needs a
    keyword or a literal: ``EXTRACT($1 FROM created_at)``, ``INTERVAL $1``, ``DATE $2``.
    libpg_query (pglast) parses those; the server does not, so such a statement could never
    be checked. When the server's scanner finds such a spot, the statement is rebuilt from its
    tree: ``pg_catalog.date_part($1, created_at)``, ``CAST($1 AS interval)``. Other text is
    returned as it is."""
    try:
        tokens = scan(text)
    except ParseError:
        return text
    spots = any(
        (first.name == "EXTRACT" and second.name == "ASCII_40" and third.name == "PARAM")
        or (second.name in _TYPED_LITERAL_TYPES and third.name == "PARAM")
        for first, second, third in zip(tokens, tokens[1:], tokens[2:], strict=False)
    )
    if not spots:
        return text
    try:
        tree = parse_one(text)
    except SqlTextError:
        return text
    _ExtractToDatePart()(tree)
    return str(RawStream()(tree))


def parse_one(text: str) -> ast.Node:
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        raise SqlTextError(f"not valid SQL: {exc}") from None
    if len(statements) != 1:
        raise SqlTextError(
            f"{len(statements)} statements where exactly one is allowed "
            "(a second statement could end the read-only transaction)"
        )
    stmt = statements[0].stmt
    if stmt is None:
        raise SqlTextError("no statement")
    return stmt


def nodes(tree: object) -> Iterator[ast.Node]:
    """Every node of a parse tree, depth first: for a reader that needs more than
    :func:`analyse` and :func:`dbtune.sql.shape.shape` say."""
    if isinstance(tree, ast.Node):
        yield tree
        for name in tree:
            yield from nodes(getattr(tree, name))
    elif isinstance(tree, tuple | list):
        for item in tree:
            yield from nodes(item)


def statement_tree(statement: str) -> ast.Node:
    """The parse tree of workload SQL (named placeholders allowed), never to be changed."""
    return shared_tree(positional(statement)[0])


@lru_cache(maxsize=256)
def shared_tree(text: str) -> ast.Node:
    """:func:`parse_one`, cached for the readers that never change the tree (:func:`analyse`
    and :func:`dbtune.sql.shape.shape`): the pytest plugin asks both about every new
    statement, and building pglast's Python tree is most of a parse's cost."""
    return parse_one(text)


class _Walker(Visitor):
    def __init__(self) -> None:
        self.writes = False
        self.locking = False
        self.relations: list[NamedRelation] = []
        self.called: list[tuple[str, NamedRelation]] = []
        self.functions: list[str] = []
        self.parameters = 0

    def visit(self, ancestors: object, node: ast.Node) -> None:
        if isinstance(node, _WRITES):
            self.writes = True
        elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
            self.writes = True  # SELECT ... INTO creates a table
        elif isinstance(node, ast.SelectStmt) and node.lockingClause:
            self.locking = True
        elif isinstance(node, ast.RangeVar):
            relation = NamedRelation(node.schemaname, str(node.relname))
            self.relations.append(relation)
            alias = node.alias.aliasname if node.alias is not None else node.relname
            self.called.append((str(alias), relation))
        elif isinstance(node, ast.FuncCall):
            self.functions.append(".".join(str(n.sval) for n in node.funcname or ()))
        elif isinstance(node, ast.ParamRef):
            self.parameters = max(self.parameters, int(node.number or 0))


@lru_cache(maxsize=1024)  # pure: the same text always reads the same way
def analyse(statement: str) -> StatementInfo:
    """Parse workload SQL (named placeholders allowed) and classify it.

    Raises :class:`SqlTextError` unless it is exactly one statement.
    """
    text, named = positional(statement)
    stmt = shared_tree(text)
    walker = _Walker()
    walker(stmt)
    if named and walker.parameters > len(named):
        raise SqlTextError(
            "mixes $n and %(name)s placeholders: use %(name)s with params, or only $n "
            "(checked as a generic plan)"
        )
    if isinstance(stmt, ast.ExplainStmt):
        raise SqlTextError("write the query itself: dbtune adds EXPLAIN")
    if walker.writes:
        access = Access.WRITE
    elif not isinstance(stmt, ast.SelectStmt):
        access = Access.OTHER
    elif walker.locking:
        access = Access.LOCKING
    else:
        access = Access.READ
    unique_relations = tuple(dict.fromkeys(walker.relations))
    return StatementInfo(
        access,
        type(stmt).__name__,
        unique_relations,
        tuple(dict.fromkeys(walker.functions)),
        0 if named else walker.parameters,
        tuple(dict.fromkeys(walker.called)),
    )


def _strip_literal_casts(node: ast.Node) -> ast.Node:
    """``'x'::text`` -> ``'x'``: the catalog adds casts that the author did not write."""

    class Strip(Visitor):
        def visit_TypeCast(self, ancestors: object, cast: ast.TypeCast) -> ast.Node | None:
            if isinstance(cast.arg, ast.A_Const):
                return cast.arg
            return None

    return Strip()(node)  # type: ignore[no-any-return]


def normal_expression(expression: str) -> str:
    """An expression in one canonical spelling, so ``(active)`` equals ``active``."""
    stmt = parse_one(f"SELECT 1 WHERE {expression}")
    where = stmt.whereClause if isinstance(stmt, ast.SelectStmt) else None
    # Anything that turned the wrapper into more than "SELECT 1 WHERE <expression>" (a UNION,
    # an ORDER BY, a LIMIT) did not come from one expression.
    if where is None or str(RawStream()(stmt)) != f"SELECT 1 WHERE {RawStream()(where)}":
        raise SqlTextError("not a single expression")
    return str(RawStream()(_strip_literal_casts(where)))


_TEXT_TYPES = frozenset({"text", "varchar", "pg_catalog.text", "pg_catalog.varchar"})


def _type_name(cast: ast.TypeCast) -> str:
    names = cast.typeName.names if cast.typeName is not None else ()
    return ".".join(str(n.sval) for n in names or () if isinstance(n, ast.String))


def one_expression(expression: str) -> str:
    """The expression as pglast prints its tree: exactly one expression, or SqlTextError (an
    index key is built from this, never pasted as written)."""
    stmt = parse_one(f"SELECT {expression}")
    if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList or len(stmt.targetList) != 1:
        raise SqlTextError("not a single expression")
    target = stmt.targetList[0]
    if target.name or str(RawStream()(stmt)) != f"SELECT {RawStream()(target.val)}":
        raise SqlTextError("not a single expression")
    return str(RawStream()(target.val))


def expression_key(expression: str) -> str:
    """An index expression in one canonical spelling, without the casts to ``text`` that the
    catalog adds to ``varchar`` columns (``lower((email)::text)`` is the ``lower(email)`` the
    author wrote) or to literals."""

    class Strip(Visitor):
        def visit_TypeCast(self, ancestors: object, cast: ast.TypeCast) -> ast.Node | None:
            if isinstance(cast.arg, ast.A_Const):
                return cast.arg
            if isinstance(cast.arg, ast.ColumnRef) and _type_name(cast) in _TEXT_TYPES:
                return cast.arg
            return None

    stmt = parse_one(f"SELECT {expression}")
    if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList or len(stmt.targetList) != 1:
        raise SqlTextError("not a single expression")
    value = Strip()(stmt.targetList[0].val)
    return str(RawStream()(value))


def same_expression(left: str | None, right: str | None) -> bool:
    """True when two boolean expressions (index predicates) parse to the same tree."""
    if not left or not right:
        return not left and not right
    try:
        return normal_expression(left) == normal_expression(right)
    except SqlTextError:
        return False


def check_expression(expression: str) -> str:
    """Refuse anything but one boolean expression (a CHECK condition, an index predicate)."""
    normal_expression(expression)
    return expression


def check_set_clause(clause: str) -> str:
    """Refuse anything but the assignments of one UPDATE's SET (``a = 1, b = lower(c)``)."""
    stmt = parse_one(f"UPDATE dbtune_target SET {clause}")  # noqa: S608 (parsed, not run)
    if (
        not isinstance(stmt, ast.UpdateStmt)
        or stmt.whereClause is not None
        or stmt.fromClause
        or stmt.returningClause is not None
        or stmt.withClause is not None
    ):
        raise SqlTextError("not a SET list (column = expression, ...)")
    return clause


def check_type_name(type_name: str) -> str:
    """Refuse anything but one type name (``varchar(40)``, ``numeric(12, 2)``,
    ``"Shop".money_type[]``): it is pasted into ``ADD COLUMN`` and ``ALTER ... TYPE``."""
    stmt = parse_one(f"SELECT CAST(NULL AS {type_name})")
    if (
        not isinstance(stmt, ast.SelectStmt)
        or not stmt.targetList
        or len(stmt.targetList) != 1
        or not isinstance(stmt.targetList[0].val, ast.TypeCast)
        or stmt.fromClause
        or stmt.whereClause is not None
    ):
        raise SqlTextError("not a type name")
    return type_name
