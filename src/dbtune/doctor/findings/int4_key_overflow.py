"""int4_key_overflow: an integer column fed by a sequence, halfway to its type's limit.

Problem: ``id integer`` (or ``smallint``) filled from a sequence fails at 2,147,483,647
(32,767) whatever the sequence allows — and widening a key column rewrites the table and every
index on it, which takes longest on exactly the tables that got there. Evidence: a column of
type ``int2``/``int4`` owning a sequence (``serial`` or identity, ``pg_depend``) whose last
value is at or above ``int_key_used_max`` (50 %) of the column type's maximum. Fix: no
statement is printed — move to ``bigint`` with expand/contract (``add_column_online`` of a
bigint column, ``backfill``, switch, swap the key) well before the limit.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "int4_key_overflow"
LIMITS = {"int2": 32_767, "int4": 2_147_483_647}


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    found = []
    for seq in catalog.health.sequences:
        if seq.table_oid is None or seq.attnum is None or seq.last_value is None:
            continue
        column = catalog.health.column(seq.table_oid, seq.attnum)
        if column is None or column.declared_typname not in LIMITS:
            continue
        limit = LIMITS[column.declared_typname]
        used = seq.last_value / limit
        if used < options.int_key_used_max:
            continue
        table = table_name(catalog, seq.table_oid)
        found.append(
            Finding(
                ID,
                f"{table}.{column.name}",
                f"{table}.{column.name} is {column.type_sql} and its sequence is at "
                f"{seq.last_value:,} ({used:.0%} of {limit:,}): inserts fail at the limit, and "
                "widening it later rewrites the table",
                "",
                severity="high",
                table_oid=seq.table_oid,
                columns=(column.name,),
            )
        )
    return found
