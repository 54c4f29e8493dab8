"""unindexed_foreign_keys: foreign keys whose referencing columns lead no index.

Problem: deleting (or re-keying) a referenced row makes PostgreSQL look up the referencing rows;
without an index led by the foreign-key columns that is a sequential scan of the child table,
per deleted parent row, under a lock. Evidence: a foreign-key constraint whose columns are not
the leading key columns (in any order) of a valid index on the referencing table. Fix:
``CREATE INDEX CONCURRENTLY`` on those columns.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.doctor.catalog import indexes, quoted
from dbtune.identifiers import ident
from dbtune.index_spec import MAX_IDENTIFIER_BYTES

ID = "unindexed_foreign_keys"

_FOREIGN_KEYS = """
SELECT k.conname, k.conrelid, t.relname, n.nspname, k.conkey::int2[],
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS columns,
       pn.nspname, p.relname
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class p ON p.oid = k.confrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE k.contype = 'f'
ORDER BY n.nspname, t.relname, k.conname
"""


def index_name(table: str, columns: list[str]) -> str:
    """``ix_<table>_<columns>``, cut to the 63 bytes PostgreSQL keeps."""
    name = f"ix_{table}_{'_'.join(columns)}"
    while len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        name = name[:-1]
    return name


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    valid = [i for i in indexes(conn) if i.valid and not i.predicate]
    findings = []
    for name, table_oid, table, schema, attnums, columns, p_schema, parent in conn.execute(
        _FOREIGN_KEYS
    ):
        wanted = {int(a) for a in attnums}
        if any(
            i.table_oid == table_oid and set(i.key_attnums[: len(wanted)]) == wanted for i in valid
        ):
            continue
        cols = ", ".join(quoted(c) for c in columns)
        fix = sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} ({});").format(
            ident(index_name(table, list(columns))),
            ident(schema, table),
            sql.SQL(", ").join(ident(c) for c in columns),
        )
        findings.append(
            Finding(
                ID,
                f"{quoted(schema, table)}.{quoted(name)}",
                f"foreign key {quoted(name)} ({quoted(schema, table)} ({cols}) -> "
                f"{quoted(p_schema, parent)}) has no index led by its column(s): deleting from "
                f"{quoted(p_schema, parent)} scans {quoted(schema, table)}",
                fix.as_string(),
            )
        )
    return findings
