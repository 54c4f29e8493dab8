"""Every column's width facts, by table OID and attnum: varchar lengths, numeric bounds,
validated ``CHECK (char_length(col) <= n)`` bounds and domains'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from dbtune.catalog.indexes import IndexInfo
from dbtune.catalog.query import CatalogQuery, Connection, Runner
from dbtune.index_spec import ColumnType, length_limit, max_width, typmod_bounds

_COLUMNS = CatalogQuery(
    """
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
       CASE WHEN dt.typtype = 'd' THEN dt.typtypmod ELSE a.atttypmod END AS typmod,
       ty.typname,
       array(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint AS k
             WHERE k.contypid = dt.oid AND k.contype = 'c' AND k.convalidated) AS domain_checks
FROM pg_attribute AS a
JOIN pg_type AS dt ON dt.oid = a.atttypid
JOIN pg_type AS ty ON ty.oid = CASE WHEN dt.typtype = 'd' THEN dt.typbasetype ELSE dt.oid END
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY(CAST(:oids AS oid[]))
"""
)

_LENGTH_CHECKS = CatalogQuery(
    """
SELECT conrelid, conkey[1], pg_get_constraintdef(oid) FROM pg_constraint AS k
WHERE contype = 'c' AND convalidated AND cardinality(conkey) = 1
  AND conrelid = ANY(CAST(:oids AS oid[]))
  AND NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = k.conrelid
                  AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
"""
)


@dataclass(frozen=True, slots=True)
class Column:
    """A column's width facts (by table OID and attnum) and its type's name."""

    table_oid: int
    attnum: int
    width: ColumnType
    typname: str

    @property
    def unbounded(self) -> bool:
        return max_width(self.width) is None


def read_columns(run: Runner, tables: Sequence[int]) -> dict[tuple[int, int], Column]:
    """The columns of ``tables`` by (table OID, attnum), text bounded by validated CHECKs."""
    bounds: dict[tuple[int, int], int] = {}
    for table_oid, attnum, definition in run(_LENGTH_CHECKS, {"oids": list(tables)}):
        limit = length_limit(definition)
        if limit is not None:
            key = (int(table_oid), int(attnum))
            bounds[key] = min(limit, bounds.get(key, limit))
    columns = {}
    for table_oid, attnum, name, type_name, typlen, typmod, typname, domain_checks in run(
        _COLUMNS, {"oids": list(tables)}
    ):
        key = (int(table_oid), int(attnum))
        chars, max_bytes = typmod_bounds(str(typname), int(typmod))
        limits = [
            x
            for x in (chars, bounds.get(key), *(length_limit(d) for d in domain_checks))
            if x is not None
        ]
        width = ColumnType(
            str(name), str(type_name), int(typlen), min(limits) if limits else None, max_bytes
        )
        columns[key] = Column(key[0], key[1], width, str(typname))
    return columns


def measure_widest(conn: Connection, index: IndexInfo, wide: list[Column]) -> int | str:
    """The widest current entry of the unbounded columns, in a savepoint: a table this role
    may not read, or that is locked, costs this remark and never the finding."""
    query = sql.SQL("SELECT /* dbtune */ max({}) FROM {}").format(
        sql.SQL(" + ").join(
            sql.SQL("coalesce(pg_column_size({}), 0)").format(sql.Identifier(c.width.name))
            for c in wide
        ),
        sql.Identifier(index.schema, index.table),
    )
    try:
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return int(row[0]) if row and row[0] is not None else 0
