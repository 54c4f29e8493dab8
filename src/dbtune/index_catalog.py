"""Catalog reads the migration helper needs: an index's state, column widths, blocking sessions.

They take a SQLAlchemy connection (what Alembic's ``op.get_bind()`` returns) and bind every
value; names reach SQL only as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dbtune.index_spec import ColumnType, ExistingIndex, length_bound

_DESCRIBE_INDEX = sa.text(
    """
    SELECT i.indisvalid, i.indisunique, t.relname,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true)
                 FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS columns,
           array(SELECT (i.indoption[k - 1] & 1) = 1
                 FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,
           i.indnkeyatts,
           pg_get_expr(i.indpred, i.indrelid) AS predicate,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    JOIN pg_class AS t ON t.oid = i.indrelid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())
    """
)

_COLUMNS = sa.text(
    """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod), ty.typlen,
           CASE WHEN ty.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
                THEN a.atttypmod - 4 END AS max_chars
    FROM pg_attribute AS a
    JOIN pg_type AS ty ON ty.oid = a.atttypid
    WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
    """
)

_LENGTH_CHECKS = sa.text(
    """
    SELECT pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid = CAST(:table AS regclass) AND contype = 'c' AND convalidated
      AND cardinality(conkey) = 1
    """
)

# Sessions an online index build on :table would wait for: transactions holding a lock that
# conflicts with SHARE on the table (writers, DDL), and transactions holding a snapshot in this
# database (the build waits for every older snapshot before it can mark the index valid).
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
                WHERE l.pid = a.pid AND l.granted
                  AND l.relation = CAST(:table AS regclass)
                  AND l.mode IN ('RowExclusiveLock', 'ShareUpdateExclusiveLock',
                                 'ShareRowExclusiveLock', 'ExclusiveLock',
                                 'AccessExclusiveLock'))
        OR (a.backend_xmin IS NOT NULL AND a.datname = current_database())
      )
    ORDER BY a.xact_start
    """
)


@dataclass(frozen=True, slots=True)
class Blocker:
    """A session that an online index build has to wait for."""

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


def describe_index(conn: sa.Connection, name: str, schema: str | None) -> ExistingIndex | None:
    row = conn.execute(_DESCRIBE_INDEX, {"name": name, "schema": schema}).first()
    if row is None:
        return None
    valid, unique, table, columns, descending, nkey, predicate, definition = row
    keys = tuple(zip(columns[:nkey], descending, strict=True))
    return ExistingIndex(
        name=name,
        table=table,
        valid=bool(valid),
        unique=bool(unique),
        key_columns=tuple((str(c), bool(d)) for c, d in keys),
        include=tuple(str(c) for c in columns[nkey:]),
        predicate=predicate,
        definition=definition,
    )


def column_types(conn: sa.Connection, table: str) -> dict[str, ColumnType]:
    """Every column of ``table`` with its width facts, text bounded by validated CHECKs."""
    bounds: dict[str, int] = {}
    for (definition,) in conn.execute(_LENGTH_CHECKS, {"table": table}):
        found = length_bound(definition)
        if found:
            column, limit = found
            bounds[column] = min(limit, bounds.get(column, limit))
    result = {}
    for name, type_name, typlen, max_chars in conn.execute(_COLUMNS, {"table": table}):
        chars = max_chars if max_chars is not None else bounds.get(name)
        result[name] = ColumnType(name, type_name, int(typlen), chars)
    return result


def find_blockers(conn: sa.Connection, table: str, min_age_s: float = 0.0) -> list[Blocker]:
    rows = conn.execute(_BLOCKERS, {"table": table, "min_age_s": min_age_s})
    return [Blocker(int(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]
