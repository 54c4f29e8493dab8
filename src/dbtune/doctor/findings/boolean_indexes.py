"""boolean_indexes: a btree index that leads with a boolean column.

Problem: a boolean has two values; an index led by one sorts the table into two halves, which
the planner rarely uses (it scans the table) and every write maintains. A boolean later in the
key (``(user_id, active, next_run_at)``) is fine: it is what a partial index would say.
Evidence: a valid, non-partial btree whose first key column's type is in the boolean category
(``pg_type.typcategory = 'B'``). Fix: no statement is printed — replace it with a partial
index on what the queries filter (``CREATE INDEX CONCURRENTLY ... (other_col) WHERE flag``),
or drop it when nothing reads it.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "boolean_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import key_columns, plain_btrees

    found = []
    for index in plain_btrees(catalog):
        lead = key_columns(catalog, index)[0]
        if lead is None or lead.category != "B":
            continue
        found.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} leads with boolean "
                f"{lead.name}: two values, half the table each; a partial index "
                f"(WHERE {lead.name}) on what the queries filter serves them better",
                "",
                severity="low",
                index_oid=index.oid,
                columns=index.key_columns,
            )
        )
    return found
