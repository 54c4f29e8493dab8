"""foreign_key_type_mismatch: a foreign key whose column type differs from the key it
references.

Problem: ``orders.customer_id integer`` referencing ``customers.id bigint`` works until the
ids pass 2,147,483,647, then inserts fail; joins and lookups between the two need a cast on one
side, and the cast can stop an index from being used. Evidence: for each foreign key, by
attnum on both sides, the columns' ``format_type`` differ. Fix: no statement is printed —
widen the referencing column to the referenced type (``change_column_type_online`` when the
server can do it without a rewrite, else expand/contract).
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "foreign_key_type_mismatch"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    health = catalog.health
    found = []
    for key in catalog.foreign_keys:
        if len(key.parent_attnums) != len(key.attnums):
            continue  # a key described without its referenced columns
        for attnum, parent_attnum in zip(key.attnums, key.parent_attnums, strict=True):
            child = health.column(key.table_oid, attnum)
            parent = health.column(key.parent_oid, parent_attnum)
            if child is None or parent is None or child.type_sql == parent.type_sql:
                continue
            table, referenced = (
                table_name(catalog, key.table_oid),
                table_name(catalog, key.parent_oid),
            )
            found.append(
                Finding(
                    ID,
                    f"{table}.{key.name}",
                    f"foreign key {key.name}: {table}.{child.name} is {child.type_sql}, but "
                    f"{referenced}.{parent.name} is {parent.type_sql}",
                    "",
                    severity="medium",
                    table_oid=key.table_oid,
                    columns=(child.name,),
                )
            )
    return found
