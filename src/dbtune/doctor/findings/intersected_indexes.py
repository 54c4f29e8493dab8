"""intersected_indexes: two indexes on a table that lead with the same column and share more.

Problem: ``(a, b)`` and ``(a, c, b)`` both serve lookups on ``a``, and every write maintains
both; often one index in the right column order serves every query that uses either.
Redundant indexes (one a prefix of the other) are ``redundant_indexes``; these overlap without
one covering the other. Evidence: two valid, non-partial btree indexes of the same table, by
attnum, whose first key column is the same and that share at least two key columns, neither
being a prefix of the other. Fix: no statement is printed — check which queries use each
(``pg_stat_user_indexes.idx_scan``, ``dbtune explain``) and keep one index whose column order
serves them all.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding

ID = "intersected_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import plain_btrees

    indexes = sorted(plain_btrees(catalog), key=lambda i: i.oid)
    found = []
    for n, first in enumerate(indexes):
        for second in indexes[n + 1 :]:
            a, b = first.key_attnums, second.key_attnums
            if first.table_oid != second.table_oid or 0 in a or 0 in b or a[0] != b[0]:
                continue
            shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
            if longer[: len(shorter)] == shorter or len(set(a) & set(b)) < 2:
                continue
            found.append(
                Finding(
                    ID,
                    f"{first.qualified} / {second.qualified}",
                    f"indexes {first.qualified} ({', '.join(first.key_columns)}) and "
                    f"{second.qualified} ({', '.join(second.key_columns)}) on "
                    f"{first.table_qualified} lead with the same column and share "
                    f"{len(set(a) & set(b))}: one index in the right order may serve both",
                    "",
                    severity="low",
                    index_oid=second.oid,
                    columns=second.key_columns,
                )
            )
    return found
