"""timestamp_in_index_middle: a timestamp column before other columns in an index key.

Problem: queries filter a timestamp by range (``created_at > $1``); in a btree, a range on one
key column stops the columns after it from narrowing the scan, so ``(created_at, user_id)``
reads every entry in the time range for every user. Put equality columns first and the range
last: ``(user_id, created_at)``. Evidence: a valid btree with two or more key columns where a
date/time column (``typcategory = 'D'``) is not the last key column. Fix: no statement is
printed — rebuild it with the timestamp last (``create_index_online``), after checking with
``dbtune explain`` which queries use it.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "timestamp_in_index_middle"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import key_columns

    found = []
    for index in catalog.inspectable():
        if not index.valid or index.method != "btree" or len(index.key_attnums) < 2:
            continue
        columns = key_columns(catalog, index)
        early = [c for c in columns[:-1] if c is not None and c.category == "D"]
        if not early:
            continue
        found.append(
            Finding(
                ID,
                index.qualified,
                f"index {index.qualified} on {index.table_qualified} "
                f"({', '.join(index.key_columns)}) has {early[0].name} ({early[0].type_sql}) "
                "before other key columns: a time range stops them from narrowing the scan",
                "",
                severity="low",
                index_oid=index.oid,
                columns=index.key_columns,
            )
        )
    return found
