"""Every column's width facts, by table OID and attnum: varchar lengths, numeric bounds,
validated ``CHECK (char_length(col) <= n)`` bounds and domains'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from dbtune.catalog.indexes import IndexInfo
from dbtune.catalog.query import CatalogQuery, Connection, Runner
from dbtune.errors import first_line
from dbtune.sql.index_spec import ColumnType, length_limit, max_width, typmod_bounds

_COLUMNS = CatalogQuery(
    """
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
       CASE WHEN dt.typtype = 'd' THEN dt.typtypmod ELSE a.atttypmod END AS typmod,
       ty.typname,
       array(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint AS k
             WHERE k.contypid = dt.oid AND k.contype = 'c' AND k.convalidated) AS domain_checks,
       dt.typname, dt.typcategory, a.attnotnull, a.attidentity,
       a.attidentity = '' AND EXISTS (
           SELECT 1 FROM pg_depend AS dep WHERE dep.refobjid = a.attrelid
           AND dep.refobjsubid = a.attnum AND dep.classid = 'pg_class'::regclass
           AND dep.deptype = 'a'),  -- owns a sequence: serial (no pg_get_expr: it locks)
       s.null_frac, s.avg_width,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> dt.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
       a.atthasdef
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_type AS dt ON dt.oid = a.atttypid
JOIN pg_type AS ty ON ty.oid = CASE WHEN dt.typtype = 'd' THEN dt.typbasetype ELSE dt.oid END
LEFT JOIN pg_stats AS s ON s.schemaname = n.nspname AND s.tablename = c.relname
     AND s.attname = a.attname AND NOT s.inherited
LEFT JOIN pg_collation AS co ON co.oid = a.attcollation
LEFT JOIN pg_namespace AS cn ON cn.oid = co.collnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND (a.attrelid = ANY(CAST(:oids AS oid[]))
       OR CAST(:every AS boolean) AND c.relkind IN ('r', 'p', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname !~ '^pg_(toast|temp)')
"""
)

_LENGTH_CHECKS = CatalogQuery(
    """
SELECT conrelid, conkey[1], pg_get_constraintdef(oid) FROM pg_constraint AS k
WHERE contype = 'c' AND convalidated AND cardinality(conkey) = 1
  AND (conrelid = ANY(CAST(:oids AS oid[]))
       OR CAST(:every AS boolean) AND connamespace NOT IN (
           SELECT oid FROM pg_namespace
           WHERE nspname IN ('pg_catalog', 'information_schema') OR nspname ~ '^pg_(toast|temp)'))
  AND NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = k.conrelid
                  AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
"""
)


@dataclass(frozen=True, slots=True)
class Column:
    """One column, by table OID and attnum: the one column record of explain, the advisor and
    doctor. Its width facts (``width``: varchar lengths, numeric bounds, validated length
    CHECKs, domains'), its base type's name (``typname``: a domain's base type), its own
    type (``declared_typname``, ``category``) and what doctor's health checks read."""

    table_oid: int
    attnum: int
    width: ColumnType
    typname: str
    declared_typname: str = ""
    category: str = ""  # pg_type.typcategory: A array, B boolean, D date/time, S string, ...
    not_null: bool = False
    identity: str = ""  # '' none, a always, d by default
    serial: bool = False  # its default is nextval(...)
    null_frac: float | None = None  # pg_stats, when analyzed
    avg_width: int | None = None
    collation: str | None = None  # quoted, schema-qualified, when not the type's default
    has_default: bool = False

    @property
    def name(self) -> str:
        return self.width.name

    @property
    def type_sql(self) -> str:
        """As ``format_type`` spells it, e.g. ``character(2)``, ``integer[]``."""
        return self.width.type_name

    @property
    def unbounded(self) -> bool:
        return max_width(self.width) is None


def read_columns(
    run: Runner, tables: Sequence[int], *, every: bool = False
) -> dict[tuple[int, int], Column]:
    """The columns of ``tables`` (with ``every``, of every table of the user schemas) by
    (table OID, attnum), text bounded by validated CHECKs."""
    binds = {"oids": list(tables), "every": every}
    bounds: dict[tuple[int, int], int] = {}
    for table_oid, attnum, definition in run(_LENGTH_CHECKS, binds):
        limit = length_limit(definition)
        if limit is not None:
            key = (int(table_oid), int(attnum))
            bounds[key] = min(limit, bounds.get(key, limit))
    columns = {}
    for row in run(_COLUMNS, binds):
        key = (int(row[0]), int(row[1]))
        columns[key] = _column(key, row, bounds.get(key))
    return columns


def _column(key: tuple[int, int], row: Sequence[Any], check_bound: int | None) -> Column:
    name, type_name, typlen, typmod, typname, domain_checks = row[2:8]
    chars, max_bytes = typmod_bounds(str(typname), int(typmod))
    limits = [
        x for x in (chars, check_bound, *(length_limit(d) for d in domain_checks))
        if x is not None
    ]  # fmt: skip
    width = ColumnType(
        str(name), str(type_name), int(typlen), min(limits) if limits else None, max_bytes
    )
    declared, category, not_null, identity, serial, null_frac, avg_width = row[8:15]
    collation, has_default = row[15:17]
    return Column(
        key[0], key[1], width, str(typname), str(declared), str(category), bool(not_null),
        str(identity or ""), bool(serial), float(null_frac) if null_frac is not None else None,
        int(avg_width) if avg_width is not None else None,
        str(collation) if collation is not None else None, bool(has_default),
    )  # fmt: skip


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
        return first_line(exc)
    return int(row[0]) if row and row[0] is not None else 0
