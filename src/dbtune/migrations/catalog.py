"""Catalog reads the migration helpers need: a table by OID, an index's structure, column
widths (through :mod:`dbtune.catalog`, the same SQL the doctor reads), and the sessions an
operation would wait for.

They take a SQLAlchemy connection (what Alembic's ``op.get_bind()`` returns) and bind every
value. Tables are resolved once with ``to_regclass`` (the search_path the session really has),
and everything after that is looked up by OID and attnum: ``pg_get_indexdef`` quotes mixed-case
names while ``pg_attribute.attname`` does not, so text never decides whether two things match.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.catalog import read_columns, read_indexes, sqlalchemy_runner
from dbtune.identifiers import ident
from dbtune.index_spec import ColumnType, ExistingIndex


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


def describe_index(conn: sa.Connection, name: str, table: Table) -> ExistingIndex | None:
    """The index called ``name`` in ``table``'s schema (indexes live beside their table)."""
    found = read_indexes(sqlalchemy_runner(conn), name=name, beside=table.oid)
    if not found:
        return None
    index = found[0]
    # An expression key keeps its text in parentheses, so it never equals a column name.
    names = [
        text if attnum else f"({text})"
        for attnum, text in zip(
            index.key_attnums + index.include_attnums,
            index.key_columns + index.include,
            strict=True,
        )
    ]
    nkey = len(index.key_attnums)
    return ExistingIndex(
        name=name,
        table=index.table,
        valid=index.valid,
        unique=index.unique,
        key_columns=tuple(zip(names[:nkey], index.descending, strict=True)),
        include=tuple(names[nkey:]),
        predicate=index.predicate or None,
        definition=index.definition,
        method=index.method,
        default_opclasses=index.default_opclasses,
    )


def column_types(conn: sa.Connection, table: Table) -> dict[str, ColumnType]:
    """Every column of ``table`` by its exact name, with its width facts."""
    columns = read_columns(sqlalchemy_runner(conn), [table.oid])
    return {c.width.name: c.width for c in columns.values()}


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
