"""Names and facts several health checks share (not a check: the leading underscore keeps it
out of the registry)."""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

from dbtune.catalog import Catalog, Column, IndexInfo, Table, quoted
from dbtune.doctor import Finding, Severity
from dbtune.sql.identifiers import ident


def table_name(catalog: Catalog, oid: int) -> str:
    found = catalog.health.table_name(oid)
    return quoted(*found) if found else str(oid)


def key_columns(catalog: Catalog, index: IndexInfo) -> list[Column | None]:
    """The facts of each key column of ``index`` (None for an expression)."""
    return [catalog.health.column(index.table_oid, n) if n else None for n in index.key_attnums]


def plain_btrees(catalog: Catalog) -> list[IndexInfo]:
    """Valid, non-partial btree indexes the checks may judge."""
    return [i for i in catalog.inspectable() if i.valid and i.method == "btree" and not i.predicate]


def column_findings(
    catalog: Catalog, check: str, wanted: Callable[[Column], bool], why: str
) -> list[Finding]:
    """One low-severity finding per column ``wanted`` picks: ``table.column is TYPE: why``."""
    found = []
    for column in sorted(catalog.health.columns.values(), key=lambda c: (c.table_oid, c.attnum)):
        if not wanted(column):
            continue
        table = table_name(catalog, column.table_oid)
        found.append(
            Finding(
                check,
                f"{table}.{column.name}",
                f"{table}.{column.name} is {column.type_sql}: {why}",
                "",
                severity="low",
                table_oid=column.table_oid,
                columns=(column.name,),
            )
        )
    return found


def table_finding(
    check: str,
    table: Table,
    says: str,
    fix: str = "",
    severity: Severity = "medium",
    undo: str = "",
) -> Finding:
    """A finding about a whole table: ``says`` follows its name; ``fix`` and ``undo`` are one
    statement each with ``{}`` where the table goes (quoted, schema-qualified)."""
    name = ident(table.schema, table.name)

    def statement(template: str) -> str:
        return sql.SQL(template).format(name).as_string() if template else ""

    subject = quoted(table.schema, table.name)
    message = f"{subject} {says}"
    return Finding(
        check, subject, message, statement(fix), severity, table.oid, undo=statement(undo)
    )
