"""timestamp_without_time_zone: ``timestamp`` columns that do not know their time zone.

Problem: ``timestamp without time zone`` stores wall-clock digits; what they mean depends on
the writer's time zone, which nothing records. A Python service mixing aware and naive
datetimes, two servers in different zones, or a DST change makes ordering and "the last hour"
wrong without an error. ``timestamptz`` stores an instant and takes no more space. Evidence:
columns of type ``timestamp`` (``pg_type.typname = 'timestamp'``). Fix: no statement is
printed — ``ALTER COLUMN ... TYPE timestamptz USING col AT TIME ZONE 'UTC'`` (when the values
are UTC); since PostgreSQL 12 it does not rewrite when the session's TimeZone is UTC.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "timestamp_without_time_zone"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import column_findings

    return column_findings(
        catalog,
        ID,
        lambda column: column.declared_typname == "timestamp",
        "its values mean nothing without the writer's time zone, which is not stored",
    )
