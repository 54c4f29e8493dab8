"""index_entry_too_wide: a revision made an existing btree index able to hold too-wide entries.

Problem: a btree entry larger than 2704 bytes makes the INSERT or UPDATE that writes it fail.
An index whose columns were all bounded (``varchar(100)``, ``bigint``) is safe; widening an
indexed column to ``text`` or ``varchar(5000)`` (or adding an unbounded INCLUDE column) makes
the failure possible — on production data, later, on one long value. Evidence: the widest
possible entry of each btree index, from its columns' types, modifiers and validated length
CHECKs (the same reading as doctor's ``wide_indexes``), before and after the revision, matched
by table OID and index name: bounded within the limit before, unbounded or over it after.
Fix: keep the column bounded — a width that fits, or ``CHECK (char_length(col) <= n)`` added
with ``add_checks_online`` — or rebuild the index without the column.
"""

from __future__ import annotations

from dbtune.sql.index_spec import BTREE_MAX_ENTRY_BYTES
from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "index_entry_too_wide"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    work = revision.work()
    for key, (name, after) in sorted(revision.entry_bounds_after.items()):
        if key not in revision.entry_bounds_before:
            continue
        before = revision.entry_bounds_before[key][1]
        if before is None or before > BTREE_MAX_ENTRY_BYTES:
            continue
        if after is not None and after <= BTREE_MAX_ENTRY_BYTES:
            continue
        table_oid = key[0]
        culprit = next(
            (s for s in work if table_oid in {t.oid for t in s.targets}), work[-1] if work else None
        )
        now = "unbounded" if after is None else f"up to {after:,} bytes"
        hits.append(
            Hit(
                culprit.number if culprit else 0,
                name,
                (f"`{shown(culprit.sql)}` " if culprit else "")
                + f"made entries of {name} {now} (up to {before:,} bytes before): an entry over "
                f"{BTREE_MAX_ENTRY_BYTES} bytes makes the INSERT fail",
                "keep the column bounded (a width that fits, or add_checks_online(table, "
                "{name: 'char_length(col) <= n'})), or rebuild the index without it",
            )
        )
    return hits
