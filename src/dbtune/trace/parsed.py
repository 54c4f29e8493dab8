"""What a traced statement says it does, from its parse tree (pglast, the server's grammar).

The trace decides from what the server did; the tree answers what the server cannot report
afterwards: which relations the statement names, whether an index build or drop was
``CONCURRENTLY``, which ``ALTER TABLE`` subcommands it holds, whether it renames.
"""

from __future__ import annotations

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ObjectType
from pglast.parser import ParseError
from pglast.visitors import Visitor

from dbtune.sql import helper_calls as calls

CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


def parse(text: str) -> tuple[ast.Node, ...]:
    """The statements of ``text``; none when the text is not SQL pglast can read."""
    try:
        return tuple(raw.stmt for raw in parse_sql(text) if raw.stmt is not None)
    except ParseError:
        return ()


class _RangeVars(Visitor):
    def __init__(self) -> None:
        self.found: list[ast.RangeVar] = []

    def visit(self, ancestors: object, node: ast.Node) -> None:
        if isinstance(node, ast.RangeVar):
            self.found.append(node)


def range_vars(node: ast.Node) -> list[ast.RangeVar]:
    walker = _RangeVars()
    walker(node)
    return walker.found


def _dotted(names: tuple[ast.Node, ...] | list[ast.Node]) -> tuple[str | None, str] | None:
    parts = [str(n.sval) for n in names if isinstance(n, ast.String)]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def named_relations(node: ast.Node) -> list[tuple[str | None, str]]:
    """The relations a statement acts on, as (schema or None, name), in its order."""
    if isinstance(node, ast.DropStmt) and node.removeType in (
        ObjectType.OBJECT_INDEX,
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
        ObjectType.OBJECT_SEQUENCE,
    ):
        found = [_dotted(tuple(obj)) for obj in node.objects or ()]
        return [f for f in found if f is not None]
    names = []
    for rv in range_vars(node):
        names.append((str(rv.schemaname) if rv.schemaname else None, str(rv.relname)))
    return names


def alter_commands(node: ast.Node) -> list[ast.AlterTableCmd]:
    if isinstance(node, ast.AlterTableStmt):
        return [c for c in node.cmds or () if isinstance(c, ast.AlterTableCmd)]
    return []


def has_alter(node: ast.Node, *subtypes: AlterTableType) -> bool:
    return any(c.subtype in subtypes for c in alter_commands(node))


def is_concurrent(node: ast.Node) -> bool:
    return bool(getattr(node, "concurrent", False))


def is_rename(node: ast.Node) -> bool:
    return isinstance(node, ast.RenameStmt) and node.renameType in (
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_COLUMN,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
    )


def is_data_change(node: ast.Node) -> bool:
    """INSERT, UPDATE, DELETE or MERGE (how many rows it changed is the driver's row count:
    an ``executemany`` of a VALUES insert counts all its rows)."""
    return isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt)


def is_catalog_read(node: ast.Node) -> bool:
    """A SELECT that reads only the system catalogs (Alembic's and the helpers' lookups)."""
    if not isinstance(node, ast.SelectStmt) or node.intoClause is not None or node.lockingClause:
        return False
    return all(
        (rv.schemaname in CATALOG_SCHEMAS) or str(rv.relname).startswith("pg_")
        for rv in range_vars(node)
    )


def touches(node: ast.Node, table: str, schema: str | None) -> bool:
    """Whether the statement names ``table`` (the version table) in any clause."""
    return any(
        str(rv.relname) == table and (schema is None or rv.schemaname in (None, schema))
        for rv in range_vars(node)
    )


def create_index_call(node: ast.IndexStmt) -> str:
    """The ``create_index_online(...)`` call that builds the same index online."""
    call = calls.index_stmt(node)
    return call.text() if call is not None else "create_index_online(name, table, columns)"
