"""Catalog reads the migration helpers need: a table by OID, an index's structure, column
widths, and the sessions an operation would wait for.

They take a SQLAlchemy connection (what Alembic's ``op.get_bind()`` returns) and bind every
value. Tables are resolved once with ``to_regclass`` (the search_path the session really has),
and everything after that is looked up by OID and attnum: ``pg_get_indexdef`` quotes mixed-case
names while ``pg_attribute.attname`` does not, so text never decides whether two things match.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.identifiers import ident
from dbtune.index_spec import ColumnType, ExistingIndex, length_limit


@dataclass(frozen=True, slots=True)
class Table:
    oid: int
    schema: str
    name: str

    @property
    def identifier(self) -> sql.Composable:
        return ident(self.schema, self.name)

    @property
    def display(self) -> str:
        return self.identifier.as_string()


_RESOLVE = sa.text(
    """
    SELECT c.oid, n.nspname, c.relname
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(:name)
    """
)


def resolve_table(conn: sa.Connection, table: str, schema: str | None) -> Table | None:
    """The table as the session's search_path finds it (or in ``schema``), or None."""
    name = ident(*([schema] if schema else []), table).as_string()
    row = conn.execute(_RESOLVE, {"name": name}).first()
    return Table(int(row[0]), str(row[1]), str(row[2])) if row else None


_DESCRIBE_INDEX = sa.text(
    """
    SELECT i.indisvalid, i.indisunique, i.indnkeyatts,
           array(SELECT coalesce(a.attname, '(' || pg_get_indexdef(i.indexrelid, k.n, true) || ')')
                 FROM generate_series(1, i.indnatts) AS k(n)
                 LEFT JOIN pg_attribute AS a
                   ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1]
                      AND i.indkey[k.n - 1] <> 0
                 ORDER BY k.n) AS columns,
           array(SELECT (i.indoption[k - 1] & 1) = 1
                 FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
           NOT EXISTS (
               SELECT 1 FROM generate_series(1, i.indnkeyatts) AS k
               JOIN pg_opclass AS o ON o.oid = i.indclass[k - 1]
               WHERE NOT o.opcdefault) AS default_opclasses,
           am.amname,
           pg_get_expr(i.indpred, i.indrelid) AS predicate,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    JOIN pg_am AS am ON am.oid = c.relam
    WHERE c.relname = :name AND c.relnamespace = (
        SELECT relnamespace FROM pg_class WHERE oid = :table_oid)
    """
)


def describe_index(conn: sa.Connection, name: str, table: Table) -> ExistingIndex | None:
    """The index called ``name`` in ``table``'s schema (indexes live beside their table)."""
    row = conn.execute(_DESCRIBE_INDEX, {"name": name, "table_oid": table.oid}).first()
    if row is None:
        return None
    valid, unique, nkey, columns, descending, default_ops, method, predicate, definition = row
    return ExistingIndex(
        name=name,
        table=table.name,
        valid=bool(valid),
        unique=bool(unique),
        key_columns=tuple(
            (str(c), bool(d)) for c, d in zip(columns[:nkey], descending, strict=True)
        ),
        include=tuple(str(c) for c in columns[nkey:]),
        predicate=predicate,
        definition=definition,
        method=str(method),
        default_opclasses=bool(default_ops),
    )


_COLUMNS = sa.text(
    """
    SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
           CASE WHEN ty.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
                THEN a.atttypmod - 4 END AS max_chars
    FROM pg_attribute AS a
    JOIN pg_type AS ty ON ty.oid = a.atttypid
    WHERE a.attrelid = :table_oid AND a.attnum > 0 AND NOT a.attisdropped
    """
)

_LENGTH_CHECKS = sa.text(
    """
    SELECT conkey[1], pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid = :table_oid AND contype = 'c' AND convalidated AND cardinality(conkey) = 1
    """
)


def column_types(conn: sa.Connection, table: Table) -> dict[str, ColumnType]:
    """Every column of ``table`` by its exact name, text bounded by validated CHECKs (by attnum)."""
    bounds: dict[int, int] = {}
    for attnum, definition in conn.execute(_LENGTH_CHECKS, {"table_oid": table.oid}):
        limit = length_limit(definition)
        if limit is not None:
            bounds[int(attnum)] = min(limit, bounds.get(int(attnum), limit))
    result = {}
    for attnum, name, type_name, typlen, max_chars in conn.execute(
        _COLUMNS, {"table_oid": table.oid}
    ):
        chars = max_chars if max_chars is not None else bounds.get(int(attnum))
        result[str(name)] = ColumnType(str(name), type_name, int(typlen), chars)
    return result


# Sessions an online operation on :table_oid would wait for. A concurrent index build or drop
# waits for transactions holding a write or DDL lock on the table and for every transaction
# holding a snapshot in this database (though those hold no lock on the table). ALTER TABLE
# (:every_lock) waits for any lock on the table, readers' included, and for no snapshot.
_BLOCKERS = sa.text(
    """
    SELECT a.pid, coalesce(a.state, '?'), a.datname,
           extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
           left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 160) AS query
    FROM pg_stat_activity AS a
    WHERE a.pid <> pg_backend_pid()
      AND a.xact_start IS NOT NULL
      AND a.xact_start < clock_timestamp() - make_interval(secs => :min_age_s)
      AND (
        EXISTS (SELECT 1 FROM pg_locks AS l
                WHERE l.pid = a.pid AND l.granted AND l.relation = :table_oid
                  AND (:every_lock OR l.mode IN (
                      'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareRowExclusiveLock',
                      'ExclusiveLock', 'AccessExclusiveLock')))
        OR (NOT :every_lock AND a.backend_xmin IS NOT NULL
            AND a.datname = current_database())
      )
    ORDER BY a.xact_start
    """
)


@dataclass(frozen=True, slots=True)
class Blocker:
    """A session that an online operation has to wait for."""

    pid: int
    state: str
    database: str
    xact_age_s: float
    query: str

    def describe(self) -> str:
        return (
            f"pid {self.pid} ({self.state}, transaction open {self.xact_age_s:.1f} s, "
            f"database {self.database}): {self.query or '?'}"
        )


def find_blockers(
    conn: sa.Connection, table_oid: int, min_age_s: float = 0.0, *, every_lock: bool = False
) -> list[Blocker]:
    rows = conn.execute(
        _BLOCKERS, {"table_oid": table_oid, "min_age_s": min_age_s, "every_lock": every_lock}
    )
    return [Blocker(int(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]
