"""How much a finding weighs: the size and traffic of the object it concerns, read from the
same catalog, so findings of all modules are ordered by one measure."""

from __future__ import annotations

from collections.abc import Mapping

from dbtune.catalog import Catalog, IndexInfo
from dbtune.doctor.model import DoctorOptions, Finding, Scored


def score(
    finding: Finding,
    catalog: Catalog,
    options: DoctorOptions,
    by_oid: Mapping[int, IndexInfo] | None = None,
) -> Scored:
    """What ``finding`` weighs, from the catalog it was found in (``by_oid``: its indexes by
    OID, built once per run by the caller)."""
    if by_oid is None:
        by_oid = {i.oid: i for i in catalog.indexes}
    index = by_oid.get(finding.index_oid) if finding.index_oid is not None else None
    table_oid = finding.table_oid if finding.table_oid is not None else (
        index.table_oid if index else None
    )  # fmt: skip
    # catalog.tables: the indexed (and never analyzed) tables, with the write counts the
    # weight uses; health.tables: every table. Both are the same Table record.
    table = catalog.tables.get(table_oid) if table_oid is not None else None
    facts = table or (catalog.health.tables.get(table_oid) if table_oid is not None else None)
    if index is None and facts is None:
        return Scored(finding, schema=finding.schema)
    size = index.bytes if index is not None else (facts.pages * 8192 if facts else None)
    tuples = facts.tuples if facts else -1.0
    rows = tuples if tuples >= 0 else None
    days = max(catalog.stats_age_s / 86_400, 1 / 24)
    return Scored(
        finding,
        schema=index.schema if index else facts.schema if facts else None,
        table=index.table if index else facts.name if facts else None,
        index=index.name if index else None,
        size_bytes=size,
        rows=rows,
        scans=index.scans if index else None,
        writes_per_day=table.writes / days if table else None,
        small=(size or 0) < options.small_bytes and (rows or 0) < options.small_rows,
    )
