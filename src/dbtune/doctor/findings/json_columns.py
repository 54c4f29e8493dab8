"""json_columns: ``json`` columns where ``jsonb`` is meant.

Problem: ``json`` stores the text as sent and parses it again on every access; it has no
equality operator (``DISTINCT``, ``GROUP BY``, ``UNION`` fail on it) and no index support for
``@>`` or ``?``. ``jsonb`` is what an application that queries its JSON wants (``json`` only
keeps key order and duplicate keys). Evidence: columns of type ``json``. Fix: no statement is
printed — ``ALTER COLUMN ... TYPE jsonb`` (it rewrites the table: expand/contract on big ones).
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "json_columns"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import column_findings

    return column_findings(
        catalog,
        ID,
        lambda column: column.declared_typname == "json",
        "parsed on every access, no equality, no index for @> or ?; jsonb is what queries want",
    )
