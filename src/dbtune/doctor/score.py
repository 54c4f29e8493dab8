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
    table = catalog.tables.get(table_oid) if table_oid is not None else None
    facts = catalog.health.tables.get(table_oid) if table_oid is not None else None
    if index is None and table is None and facts is None:
        return Scored(finding, schema=finding.schema)
    if index is not None:
        size: int | None = index.bytes
    elif table is not None:
        size = table.pages * 8192
    else:
        size = facts.pages * 8192 if facts else None
    tuples = table.tuples if table else (facts.tuples if facts else -1.0)
    rows = tuples if tuples >= 0 else None
    days = max(catalog.stats_age_s / 86_400, 1 / 24)
    return Scored(
        finding,
        schema=index.schema if index else (table or facts).schema,  # type: ignore[union-attr]
        table=index.table if index else (table or facts).name,  # type: ignore[union-attr]
        index=index.name if index else None,
        size_bytes=size,
        rows=rows,
        scans=index.scans if index else None,
        writes_per_day=table.writes / days if table else None,
        small=(size or 0) < options.small_bytes and (rows or 0) < options.small_rows,
    )
