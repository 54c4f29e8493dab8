"""redundant_indexes: duplicate indexes, and indexes whose key is a prefix of another's.

Problem: every index slows every write and takes memory; an index whose key columns are the
leading key columns of another index on the same table serves no query the other cannot.
Evidence: two valid btree indexes on one table whose keys (columns by attnum, or expressions)
are equal, or one a prefix of the other, with the same collations, operator classes and
predicate, the same relative sort directions (a prefix may be the other's read backwards: a
one-column `(x DESC)` is served by `(x, y)`), and whose INCLUDE columns are covered. Fix: drop
the redundant one concurrently. Primary-key, unique and constraint indexes are never suggested
for dropping; an INVALID index is reported as invalid only; a partitioned index is judged once,
on its table, not again on each partition.
"""

from __future__ import annotations

from dbtune.catalog import Catalog, IndexInfo
from dbtune.doctor import DoctorOptions, Finding
from dbtune.doctor.model import dropping

ID = "redundant_indexes"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def _covers(big: IndexInfo, small: IndexInfo) -> bool:
    """True when ``big`` serves every query ``small`` serves."""
    n = len(small.key_columns)
    if (
        big.table_oid != small.table_oid
        or big.method != "btree"
        or small.method != "btree"
        or big.predicate != small.predicate
        or n > len(big.key_columns)
    ):
        return False
    if big.key[:n] != small.key or big.collations[:n] != small.collations:
        return False
    if big.opclasses.split()[:n] != small.opclasses.split()[:n]:
        return False
    order = tuple(zip(small.descending, small.nulls_first, strict=True))
    prefix = tuple(zip(big.descending[:n], big.nulls_first[:n], strict=True))
    if order not in (prefix, tuple((not d, not f) for d, f in prefix)):
        return False  # neither the same order nor the same read backwards
    if 0 in small.include_attnums:
        return False
    return set(small.include_attnums) <= set(big.key_attnums) | set(big.include_attnums)


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    found: list[Finding] = []
    valid = [i for i in catalog.inspectable() if i.valid]
    reported: set[int] = set()
    for small in valid:
        for big in valid:
            if big.oid == small.oid or not _covers(big, small):
                continue
            duplicate = len(big.key_columns) == len(small.key_columns) and _covers(small, big)
            if duplicate:
                if small.oid < big.oid:
                    continue  # each pair once: here small is the newer of the two
                # Keep the older (the one the migrations made), unless only it may be dropped.
                drop, keep = (big, small) if small.protected and not big.protected else (small, big)
            else:
                drop, keep = small, big
            if drop.protected or drop.oid in reported or keep.oid in reported:
                continue
            reported.add(drop.oid)
            what = "duplicates" if duplicate else "is a prefix of"
            message = (
                f"index {drop.qualified} {what} {keep.qualified} on {drop.table_qualified} "
                f"({drop.bytes / 2**20:.1f} MB that every write maintains)"
            )
            found.append(dropping(ID, drop, message))
    return found
