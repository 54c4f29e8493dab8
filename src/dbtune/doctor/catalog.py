"""The index catalog as the doctor modules read it: one query, shared.

Columns are identified by attnum (``pg_index.indkey``), never by the text of
``pg_get_indexdef``, which quotes mixed-case names that ``pg_attribute.attname`` does not. Sizes
come from ``pg_class.relpages``, which needs no lock: ``pg_relation_size`` would queue behind an
ACCESS EXCLUSIVE lock on the table. Names for printing are quoted with ``psycopg.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from dbtune.doctor import Connection
from dbtune.identifiers import ident

# Deparsing (pg_get_indexdef, pg_get_expr) opens the relation, which queues behind an ACCESS
# EXCLUSIVE lock held or awaited by another session; such indexes are read without their
# text (``locked``) and left out by the modules, and the report names the tables.
_INDEXES = """
SELECT c.relname, t.relname, n.nspname, i.indisvalid, i.indisunique, i.indisprimary,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint,
       i.indnkeyatts,
       array(SELECT CASE WHEN i.indkey[k - 1] <> 0 THEN a.attname::text
                         WHEN lk.locked THEN '?'
                         ELSE pg_get_indexdef(i.indexrelid, k, true) END
             FROM generate_series(1, i.indnatts) AS k
             LEFT JOIN pg_attribute AS a
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]
             ORDER BY k) AS columns,
       array(SELECT (i.indoption[k - 1] & 1) = 1
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
       i.indclass::text,
       CASE WHEN lk.locked THEN '?' ELSE coalesce(pg_get_expr(i.indpred, i.indrelid), '') END,
       am.amname,
       CASE WHEN lk.locked THEN '' ELSE pg_get_indexdef(i.indexrelid) END AS definition,
       c.relpages::bigint * current_setting('block_size')::bigint AS bytes,
       i.indexrelid, i.indrelid, i.indkey::int2[] AS attnums, lk.locked
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
JOIN pg_am AS am ON am.oid = c.relam
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM pg_locks AS l
        WHERE l.relation IN (i.indrelid, i.indexrelid) AND l.mode = 'AccessExclusiveLock'
          AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS locked
) AS lk
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
ORDER BY n.nspname, t.relname, c.relname
"""


@dataclass(frozen=True, slots=True)
class IndexInfo:
    name: str
    table: str
    schema: str
    valid: bool
    unique: bool
    primary: bool
    backs_constraint: bool
    key_columns: tuple[str, ...]
    descending: tuple[bool, ...]
    include: tuple[str, ...]
    opclasses: str
    predicate: str
    method: str
    definition: str
    bytes: int
    oid: int
    table_oid: int
    key_attnums: tuple[int, ...] = ()  # 0 for an expression
    include_attnums: tuple[int, ...] = ()
    locked: bool = False  # under an ACCESS EXCLUSIVE lock: no text was read

    @property
    def protected(self) -> bool:
        """Primary keys, unique indexes and indexes behind constraints are never dropped."""
        return self.primary or self.unique or self.backs_constraint

    @property
    def identifier(self) -> sql.Composable:
        return ident(self.schema, self.name)

    @property
    def table_identifier(self) -> sql.Composable:
        return ident(self.schema, self.table)

    @property
    def qualified(self) -> str:
        """The index's name as SQL spells it: quoted where needed, schema included."""
        return quoted(self.schema, self.name)

    @property
    def table_qualified(self) -> str:
        return quoted(self.schema, self.table)

    @property
    def key(self) -> tuple[tuple[int, str], ...]:
        """The key columns by attnum; an expression (attnum 0) by its text."""
        return tuple(
            (n, text if n == 0 else "")
            for n, text in zip(self.key_attnums, self.key_columns, strict=True)
        )


def quoted(*names: str) -> str:
    """``"App Schema"."Bad Index"``: a name as it must appear in SQL."""
    return ident(*names).as_string()


def drop_index_sql(index: IndexInfo) -> str:
    return sql.SQL("DROP INDEX CONCURRENTLY {};").format(index.identifier).as_string()


def indexes(conn: Connection) -> list[IndexInfo]:
    """Every index outside the system schemas, except those under an ACCESS EXCLUSIVE lock."""
    return [i for i in all_indexes(conn) if not i.locked]


def locked_tables(conn: Connection) -> list[str]:
    """Tables whose indexes could not be inspected because of an ACCESS EXCLUSIVE lock."""
    return sorted({i.table_qualified for i in all_indexes(conn) if i.locked})


def all_indexes(conn: Connection) -> list[IndexInfo]:
    rows = conn.execute(_INDEXES).fetchall()
    result = []
    for (
        name,
        table,
        schema,
        valid,
        unique,
        primary,
        backs,
        nkey,
        columns,
        desc,
        opclasses,
        predicate,
        method,
        definition,
        size,
        oid,
        table_oid,
        attnums,
        locked,
    ) in rows:
        result.append(
            IndexInfo(
                name,
                table,
                schema,
                bool(valid),
                bool(unique),
                bool(primary),
                bool(backs),
                tuple(columns[:nkey]),
                tuple(desc),
                tuple(columns[nkey:]),
                str(opclasses),
                str(predicate),
                str(method),
                str(definition),
                int(size),
                int(oid),
                int(table_oid),
                tuple(int(a) for a in attnums[:nkey]),
                tuple(int(a) for a in attnums[nkey:]),
                bool(locked),
            )
        )
    return result


def concurrent(definition: str) -> str:
    """``CREATE INDEX x ON ...`` -> ``CREATE INDEX CONCURRENTLY x ON ...``."""
    return definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
