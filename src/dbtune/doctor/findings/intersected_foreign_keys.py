"""intersected_foreign_keys: two foreign keys of a table to the same table over overlapping,
different columns.

Problem: ``(tenant_id, customer_id) -> customers`` beside ``(customer_id) -> customers``: the
narrower key is implied by the wider one in most schemas and costs a second check on every
write; when it is not implied, the model has two ways to say who the customer is. Evidence:
two foreign keys of the same table to the same referenced table whose referencing attnums
overlap without being equal. Fix: no statement is printed — decide which key the model means,
and drop the other.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "intersected_foreign_keys"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    keys = sorted(catalog.foreign_keys, key=lambda k: k.oid)
    found = []
    for n, first in enumerate(keys):
        for second in keys[n + 1 :]:
            if (first.table_oid, first.parent_oid) != (second.table_oid, second.parent_oid):
                continue
            shared = set(first.attnums) & set(second.attnums)
            if not shared or set(first.attnums) == set(second.attnums):
                continue
            table = table_name(catalog, first.table_oid)
            found.append(
                Finding(
                    ID,
                    f"{table}.{first.name} / {second.name}",
                    f"foreign keys {first.name} and {second.name} on {table} both reference "
                    f"{table_name(catalog, first.parent_oid)} over overlapping columns",
                    "",
                    severity="low",
                    table_oid=first.table_oid,
                )
            )
    return found
