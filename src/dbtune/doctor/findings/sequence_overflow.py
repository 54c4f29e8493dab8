"""sequence_overflow: a sequence that has used most of its range.

Problem: when a sequence reaches its maximum, ``nextval`` fails and so does every insert that
needs an id — all at once, on a day nobody chose. A ``serial`` column's sequence is an
``integer`` one (2,147,483,647). Evidence: ``pg_sequence_last_value`` over ``seqmax`` at or
above ``sequence_used_max`` (75 %), for every sequence this role may read. Fix: no statement
is printed — for an integer sequence, ``ALTER SEQUENCE ... AS bigint`` and widen the columns it
feeds first (see ``int4_key_overflow``); plan it while there is room.
"""

from __future__ import annotations

from dbtune.catalog import Catalog, quoted
from dbtune.doctor import DoctorOptions, Finding

ID = "sequence_overflow"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    found = []
    for seq in sorted(catalog.health.sequences, key=lambda s: (s.schema, s.name)):
        if seq.last_value is None or seq.max_value <= 0:
            continue
        used = seq.last_value / seq.max_value
        if used < options.sequence_used_max:
            continue
        found.append(
            Finding(
                ID,
                quoted(seq.schema, seq.name),
                f"sequence {quoted(seq.schema, seq.name)} ({seq.data_type}) is at "
                f"{seq.last_value:,} of {seq.max_value:,} ({used:.0%}): when it runs out, "
                "every insert that needs an id fails",
                "",
                severity="high",
                table_oid=seq.table_oid,
                schema=seq.schema,
            )
        )
    return found
