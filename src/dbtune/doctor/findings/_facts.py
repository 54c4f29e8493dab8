"""Names and facts several health checks share (not a check: the leading underscore keeps it
out of the registry)."""

from __future__ import annotations

from dbtune.catalog import Catalog, IndexInfo, quoted
from dbtune.health import ColumnFacts


def table_name(catalog: Catalog, oid: int) -> str:
    found = catalog.health.table_name(oid)
    return quoted(*found) if found else str(oid)


def key_columns(catalog: Catalog, index: IndexInfo) -> list[ColumnFacts | None]:
    """The facts of each key column of ``index`` (None for an expression)."""
    return [catalog.health.column(index.table_oid, n) if n else None for n in index.key_attnums]


def plain_btrees(catalog: Catalog) -> list[IndexInfo]:
    """Valid, non-partial btree indexes the checks may judge."""
    return [i for i in catalog.inspectable() if i.valid and i.method == "btree" and not i.predicate]
