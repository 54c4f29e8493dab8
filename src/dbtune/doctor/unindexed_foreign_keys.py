"""unindexed_foreign_keys: foreign keys whose referencing columns lead no index.

Problem: deleting (or re-keying) a referenced row makes PostgreSQL look up the referencing rows;
without an index led by the foreign-key columns that is a sequential scan of the child table,
per deleted parent row, under a lock. Evidence: a foreign-key constraint whose columns are not
the leading key columns (in any order) of a valid index on the referencing table. Fix:
``CREATE INDEX CONCURRENTLY`` on those columns.
"""

from __future__ import annotations

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor._catalog import indexes

ID = "unindexed_foreign_keys"

_FOREIGN_KEYS = """
SELECT k.conname, k.conrelid, t.relname, n.nspname,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS columns,
       k.confrelid::regclass::text
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE k.contype = 'f'
ORDER BY t.relname, k.conname
"""


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    valid = [i for i in indexes(conn) if i.valid and not i.predicate]
    findings = []
    for name, table_oid, table, schema, columns, parent in conn.execute(_FOREIGN_KEYS):
        wanted = set(columns)
        if any(
            i.table_oid == table_oid and set(i.key_columns[: len(wanted)]) == wanted for i in valid
        ):
            continue
        cols = ", ".join(columns)
        qualified = table if schema == "public" else f"{schema}.{table}"
        findings.append(
            Finding(
                ID,
                f"{qualified}.{name}",
                f"foreign key {name} ({qualified}.{cols} -> {parent}) has no index led by its "
                f"column(s): deleting from {parent} scans {qualified}",
                f"CREATE INDEX CONCURRENTLY ix_{table}_{'_'.join(columns)} "
                f"ON {qualified} ({cols});",
            )
        )
    return findings
