"""The index catalog as the doctor modules read it: one query, shared."""

from __future__ import annotations

from dataclasses import dataclass

from dbtune.doctor import Connection

_INDEXES = """
SELECT c.relname, t.relname, n.nspname, i.indisvalid, i.indisunique, i.indisprimary,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint,
       i.indnkeyatts,
       array(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS columns,
       array(SELECT (i.indoption[k - 1] & 1) = 1
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
       i.indclass::text, coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,
       am.amname, pg_get_indexdef(i.indexrelid) AS definition,
       pg_relation_size(i.indexrelid) AS bytes, i.indexrelid, i.indrelid
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
JOIN pg_am AS am ON am.oid = c.relam
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
ORDER BY t.relname, c.relname
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

    @property
    def protected(self) -> bool:
        """Primary keys, unique indexes and indexes behind constraints are never dropped."""
        return self.primary or self.unique or self.backs_constraint

    @property
    def qualified(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


def indexes(conn: Connection) -> list[IndexInfo]:
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
            )
        )
    return result


def concurrent(definition: str) -> str:
    """``CREATE INDEX x ON ...`` -> ``CREATE INDEX CONCURRENTLY x ON ...``."""
    return definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
