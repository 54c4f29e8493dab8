"""name_overflow: names at PostgreSQL's 63-byte limit, probably cut short.

Problem: PostgreSQL silently truncates an identifier to 63 bytes. A migration that creates
``ix_<long table>_<long columns>`` gets a shorter name than it asked for; the next migration
that drops or checks it by its full name finds nothing, and two long names can become one.
Evidence: tables, indexes and columns whose name is exactly 63 bytes long. Fix: no statement
is printed — rename it to something shorter (``ALTER INDEX ... RENAME TO``), and let names be
derived with a hash when they would pass the limit (dbtune's helpers do).
"""

from __future__ import annotations

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.index_spec import MAX_IDENTIFIER_BYTES

ID = "name_overflow"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def _full(name: str) -> bool:
    return len(name.encode("utf-8")) >= MAX_IDENTIFIER_BYTES


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    found = []
    for table in catalog.health.tables.values():
        if _full(table.name):
            found.append(Finding(ID, quoted(table.schema, table.name),
                                 f"table name {table.name!r} is 63 bytes: probably cut short",
                                 "", severity="low", table_oid=table.oid))  # fmt: skip
    for index in catalog.inspectable():
        if _full(index.name):
            found.append(Finding(ID, index.qualified,
                                 f"index name {index.name!r} is 63 bytes: probably cut short",
                                 "", severity="low", index_oid=index.oid))  # fmt: skip
    for column in catalog.health.columns.values():
        if _full(column.name):
            owner = table_name(catalog, column.table_oid)
            found.append(Finding(ID, f"{owner}.{quoted(column.name)}",
                                 f"column name {column.name!r} of {owner} is 63 bytes: probably "
                                 "cut short", "", severity="low", table_oid=column.table_oid,
                                 columns=(column.name,)))  # fmt: skip
    return found
