"""What the migration helpers read besides :mod:`dbtune.catalog` (whose one column and index
records they use, through the same SQL the doctor reads): a table resolved by name, a
constraint by name and table OID, the primary key, and the sessions an operation would wait
for.

They take a SQLAlchemy connection (what Alembic's ``op.get_bind()`` returns) and bind every
value. Tables are resolved once with ``to_regclass`` (the search_path the session really has),
and everything after that is looked up by OID and attnum: ``pg_get_indexdef`` quotes mixed-case
names while ``pg_attribute.attname`` does not, so text never decides whether two things match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.catalog import Column, read_columns, read_indexes, sqlalchemy_runner
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import ColumnType, ExistingIndex


@dataclass(frozen=True, slots=True)
class ResolvedTable:
    """A table named in a revision, resolved once (``to_regclass``): what every step after
    looks it up by. The catalog's record of a table is :class:`dbtune.catalog.Table`."""

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


def resolve_table(conn: sa.Connection, table: str, schema: str | None) -> ResolvedTable | None:
    """The table as the session's search_path finds it (or in ``schema``), or None."""
    name = ident(*([schema] if schema else []), table).as_string()
    row = conn.execute(_RESOLVE, {"name": name}).first()
    return ResolvedTable(int(row[0]), str(row[1]), str(row[2])) if row else None


def describe_index(conn: sa.Connection, name: str, table: ResolvedTable) -> ExistingIndex | None:
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
        keys=() if index.locked else index.keys(),
    )


def column_types(conn: sa.Connection, table: ResolvedTable) -> dict[str, ColumnType]:
    """Every column of ``table`` by its exact name, with its width facts."""
    columns = read_columns(sqlalchemy_runner(conn), [table.oid])
    return {c.width.name: c.width for c in columns.values()}


# Sessions an online operation on :oids would wait for. A concurrent index build or drop waits
# for transactions holding a write or DDL lock on the table and (:snapshots) for every
# transaction holding a snapshot in this database, though those hold no lock on the table.
# ADD FOREIGN KEY waits for writers and DDL on both of its tables, and for no snapshot. Other
# ALTERs (:every_lock) wait for any lock on the table, readers' included, and for no snapshot.
_BLOCKERS = sa.text(
    """
    SELECT a.pid, coalesce(a.state, '?'), a.datname,
           extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s,
           left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 160) AS query,
           coalesce((SELECT string_agg(DISTINCT l.relation::regclass::text, ', ')
                     FROM pg_locks AS l
                     WHERE l.pid = a.pid AND l.granted AND l.relation = ANY(:oids)), '')
    FROM pg_stat_activity AS a
    WHERE a.pid <> pg_backend_pid()
      AND a.xact_start IS NOT NULL
      AND a.xact_start < clock_timestamp() - make_interval(secs => :min_age_s)
      AND (
        EXISTS (SELECT 1 FROM pg_locks AS l
                WHERE l.pid = a.pid AND l.granted AND l.relation = ANY(:oids)
                  AND (:every_lock OR l.mode IN (
                      'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
                      'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')))
        OR (:snapshots AND a.backend_xmin IS NOT NULL AND a.datname = current_database())
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
    holds: str = ""  # the operation's tables this session holds a lock on

    def describe(self) -> str:
        on = f", holding {self.holds}" if self.holds else ""
        return (
            f"pid {self.pid} ({self.state}, transaction open {self.xact_age_s:.1f} s, "
            f"database {self.database}{on}): {self.query or '?'}"
        )


def find_blockers(
    conn: sa.Connection,
    table_oids: Sequence[int],
    min_age_s: float = 0.0,
    *,
    every_lock: bool = False,
    snapshots: bool = True,
) -> list[Blocker]:
    params = {
        "oids": list(table_oids),
        "min_age_s": min_age_s,
        "every_lock": every_lock,
        "snapshots": snapshots and not every_lock,
    }
    return [
        Blocker(int(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4]), str(r[5]))
        for r in conn.execute(_BLOCKERS, params)
    ]


def columns(conn: sa.Connection, table: ResolvedTable) -> dict[str, Column]:
    """Every column of ``table`` by its exact name (the catalog's one column record)."""
    found = read_columns(sqlalchemy_runner(conn), [table.oid])
    return {c.name: c for c in sorted(found.values(), key=lambda c: c.attnum)}


def column(conn: sa.Connection, table: ResolvedTable, name: str) -> Column | None:
    return columns(conn, table).get(name)


@dataclass(frozen=True, slots=True)
class ConstraintFacts:
    """A constraint of a table found by name and table OID: what kind, validated, its columns
    (``conkey``), and for a foreign key the referenced table and columns."""

    kind: str  # pg_constraint.contype: c, f, u, p, n, x, t
    validated: bool
    columns: tuple[int, ...]
    referent_oid: int
    referent_columns: tuple[int, ...]
    index_oid: int
    on_delete: str
    on_update: str


_CONSTRAINT = sa.text(
    """
    SELECT contype, convalidated, coalesce(conkey, '{}'), confrelid, coalesce(confkey, '{}'),
           conindid, confdeltype, confupdtype
    FROM pg_constraint WHERE conrelid = :table_oid AND conname = :name
    """
)


def constraint(conn: sa.Connection, table: ResolvedTable, name: str) -> ConstraintFacts | None:
    row = conn.execute(_CONSTRAINT, {"table_oid": table.oid, "name": name}).first()
    if row is None:
        return None
    return ConstraintFacts(
        kind=str(row[0]),
        validated=bool(row[1]),
        columns=tuple(int(x) for x in row[2]),
        referent_oid=int(row[3]),
        referent_columns=tuple(int(x) for x in row[4]),
        index_oid=int(row[5]),
        on_delete=str(row[6]),
        on_update=str(row[7]),
    )


_PRIMARY_KEY = sa.text(
    """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod)
    FROM pg_index AS i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = :table_oid AND i.indisprimary
    ORDER BY k.position
    """
)


def primary_key(conn: sa.Connection, table: ResolvedTable) -> list[tuple[str, str]]:
    """The primary key's columns in key order, each with its type (``format_type``)."""
    rows = conn.execute(_PRIMARY_KEY, {"table_oid": table.oid})
    return [(str(r[0]), str(r[1])) for r in rows]


def estimated_rows(conn: sa.Connection, table: ResolvedTable) -> int | None:
    """``reltuples`` (None when the table was never vacuumed or analyzed)."""
    value = conn.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = :oid"), {"oid": table.oid}
    ).scalar()
    return None if value is None or value < 0 else int(value)
