"""The Python call of an online helper, as dbtune prints it: in generated revisions (the
autogenerate hook) and as the safer way of a ``dbtune trace`` finding — one spelling for both,
with every name passed exactly as the catalog holds it."""

from __future__ import annotations

from collections.abc import Sequence

from pglast import ast
from pglast.enums import SortByDir
from pglast.stream import RawStream


def create_index_call(
    name: str,
    table: str,
    columns: Sequence[str],
    *,
    include: Sequence[str] = (),
    where: str | None = None,
    unique: bool = False,
    schema: str | None = None,
) -> str:
    args = [repr(name), repr(table), repr(list(columns))]
    if include:
        args.append(f"include={list(include)!r}")
    if where is not None:
        args.append(f"where={where!r}")
    if unique:
        args.append("unique=True")
    if schema:
        args.append(f"schema={schema!r}")
    return f"create_index_online({', '.join(args)})"


def drop_index_call(name: str, table: str, *, schema: str | None = None) -> str:
    args = [repr(name), repr(table)] + ([f"schema={schema!r}"] if schema else [])
    return f"drop_index_online({', '.join(args)})"


def index_stmt_call(node: ast.IndexStmt) -> str | None:
    """The ``create_index_online(...)`` call for a parsed ``CREATE INDEX``, or None when the
    helper cannot say the same thing (an expression, an operator class, a collation, NULLS
    order, a method other than btree)."""
    columns = []
    for elem in node.indexParams or ():
        if (
            not isinstance(elem, ast.IndexElem)
            or elem.name is None
            or elem.opclass
            or elem.collation
            or elem.nulls_ordering
        ):
            return None
        desc = " DESC" if elem.ordering == SortByDir.SORTBY_DESC else ""
        columns.append(f"{elem.name}{desc}")
    relation = node.relation
    if relation is None or (node.accessMethod or "btree") != "btree":
        return None
    include = [str(e.name) for e in node.indexIncludingParams or () if isinstance(e, ast.IndexElem)]
    where = str(RawStream()(node.whereClause)) if node.whereClause is not None else None
    return create_index_call(
        str(node.idxname or "name"), str(relation.relname), columns, include=include,
        where=where, unique=bool(node.unique),
        schema=str(relation.schemaname) if relation.schemaname else None,
    )  # fmt: skip
