"""char_columns: ``char(n)`` columns.

Problem: ``char(n)`` pads every value with spaces to ``n`` characters, stores the padding, and
compares ignoring it — ``'a' = 'a   '`` — while Python, JSON and every other system keep the
spaces: values round-trip changed, and a ``LIKE`` or a join against a ``text`` column misses.
It is never faster than ``text``/``varchar`` in PostgreSQL. Evidence: columns of type
``bpchar`` with a length above 1 (``char(1)`` flags are left alone). Fix: no statement is
printed — ``varchar(n)`` or ``text`` (with a CHECK on the length if it matters); the type
change rewrites the table, so expand/contract on big ones.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "char_columns"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import column_findings

    return column_findings(
        catalog,
        ID,
        lambda column: (
            column.declared_typname == "bpchar"
            and column.type_sql not in ("character(1)", "character")
        ),
        "values are padded with spaces that compare as nothing and come back to the application",
    )
