"""The catalog as dbtune's tools read it: typed records, by OID and attnum, read once per run.

One read gives every index (with its key and INCLUDE attnums, directions, operator classes,
predicate and scans), every column's width facts (varchar lengths and validated
``CHECK (char_length(col) <= n)`` bounds, matched by attnum), the foreign keys, the tables'
visibility and write counts, the statistics' age and the server's connection budget. The
doctor's findings are pure functions of a :class:`Catalog`, unit-tested on catalogs built in
Python, as the plan checks are on recorded plans.

Names are compared by OID and attnum, never as text: ``pg_get_indexdef`` quotes mixed-case
names that ``pg_attribute.attname`` does not. Deparsing (``pg_get_indexdef``, ``pg_get_expr``,
``pg_get_constraintdef``) opens the relation and so queues behind an ACCESS EXCLUSIVE lock; the
indexes of a table under such a lock are read without their text and marked ``locked``. Sizes
come from ``pg_class.relpages``, which needs no lock. Names for printing are quoted as the
server's ``quote_ident`` would quote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from dbtune.identifiers import ident
from dbtune.index_spec import ColumnType, length_limit, max_width, typmod_bounds
from dbtune.pool.budget import ServerBudget, read_budget

Connection = psycopg.Connection[tuple[Any, ...]]
if TYPE_CHECKING:
    import sqlalchemy as sa

    from dbtune.health import Health

# SQLAlchemy's own rule for a bind in text(): ``:name``, not ``::type`` nor ``\:``.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


class CatalogQuery:
    """One catalog query with ``:name`` binds. The same SQL serves psycopg (the doctor, explain)
    and a SQLAlchemy connection (Alembic's, on psycopg or asyncpg). SQLAlchemy is imported only
    for the latter: the pytest plugin reads the catalog through psycopg and should not pay
    for it."""

    def __init__(self, text: str) -> None:
        self.text = text
        # psycopg's format: literal % doubled, binds as %(name)s (a unit test compares it
        # with what SQLAlchemy's psycopg dialect compiles the same text to).
        self.pyformat = _BIND.sub(r"%(\1)s", text.replace("%", "%%"))
        self._clause: sa.TextClause | None = None

    def clause(self) -> sa.TextClause:
        if self._clause is None:
            import sqlalchemy as sa

            self._clause = sa.text(self.text)
        return self._clause


Runner = Callable[[CatalogQuery, Mapping[str, Any]], Sequence[Sequence[Any]]]
"""Runs one catalog query with its binds, through psycopg or SQLAlchemy."""


def psycopg_query(query: CatalogQuery, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``query`` as psycopg's text and binds."""
    return query.pyformat, dict(params)


def psycopg_runner(conn: Connection) -> Runner:
    def run(query: CatalogQuery, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return conn.execute(query.pyformat, dict(params)).fetchall()

    return run


def sqlalchemy_runner(conn: sa.Connection) -> Runner:
    def run(query: CatalogQuery, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return conn.execute(query.clause(), dict(params)).all()

    return run


_INDEXES = CatalogQuery(
    """
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
       i.indexrelid, i.indrelid, i.indkey::int2[] AS attnums, lk.locked,
       CASE WHEN c.relkind = 'I'  -- a partitioned index: its partitions' indexes are scanned
            THEN (SELECT coalesce(sum(ps.idx_scan), 0) FROM pg_partition_tree(i.indexrelid) AS pt
                  JOIN pg_stat_user_indexes AS ps ON ps.indexrelid = pt.relid)
            ELSE coalesce(s.idx_scan, 0) END AS scans,
       NOT EXISTS (SELECT 1 FROM generate_series(1, i.indnkeyatts) AS k
                   JOIN pg_opclass AS o ON o.oid = i.indclass[k - 1]
                   WHERE NOT o.opcdefault) AS default_opclasses,
       array(SELECT (i.indoption[k - 1] & 2) = 2
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS nulls_first,
       i.indcollation::oid[] AS collations,
       c.relkind = 'I' AS partitioned,
       (SELECT h.inhparent FROM pg_inherits AS h WHERE h.inhrelid = i.indexrelid) AS attached_to
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
JOIN pg_am AS am ON am.oid = c.relam
LEFT JOIN pg_stat_user_indexes AS s ON s.indexrelid = i.indexrelid
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM pg_locks AS l
        WHERE l.relation IN (i.indrelid, i.indexrelid) AND l.mode = 'AccessExclusiveLock'
          AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS locked
) AS lk
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND (CAST(:index_name AS name) IS NULL OR c.relname = CAST(:index_name AS name))
  AND (CAST(:beside AS oid) IS NULL
       OR c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = CAST(:beside AS oid)))
  AND (CAST(:tables AS oid[]) IS NULL OR i.indrelid = ANY(CAST(:tables AS oid[])))
ORDER BY n.nspname, t.relname, c.relname
"""
)


# A domain's width is its base type's with the domain's typmod, narrowed by its CHECKs.
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

_FOREIGN_KEYS = CatalogQuery(
    """
SELECT k.conname, k.conrelid, n.nspname, t.relname, k.conkey::int2[],
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord),
       pn.nspname, p.relname, t.relkind = 'p' AS partitioned,
       k.confrelid, k.confkey::int2[], k.oid,
       -- what re-creates it; not read under another session's ACCESS EXCLUSIVE lock
       CASE WHEN NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = k.conrelid
                             AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
            THEN pg_get_constraintdef(k.oid) ELSE '' END
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class p ON p.oid = k.confrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE k.contype = 'f' AND k.conparentid = 0  -- a partitioned table's key, not its clones
ORDER BY n.nspname, t.relname, k.conname
"""
)

_TABLES = CatalogQuery(
    """
WITH wanted AS (
    SELECT unnest(CAST(:oids AS oid[])) AS oid
    UNION  -- the relations a query names, resolved as the planner resolves them
    SELECT to_regclass(CASE WHEN r.schema IS NULL THEN quote_ident(r.name)
                            ELSE quote_ident(r.schema) || '.' || quote_ident(r.name) END)
    FROM unnest(CAST(:schemas AS text[]), CAST(:names AS text[])) AS r(schema, name)
    UNION  -- with :unanalyzed, also every table never analyzed, indexed or not
    SELECT c.oid FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE CAST(:unanalyzed AS boolean) AND c.reltuples < 0 AND c.relkind IN ('r', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%'
)
SELECT c.oid, n.nspname, c.relname,
       -- never analyzed, relpages may still be 0: ask the file, unless another session
       -- holds an ACCESS EXCLUSIVE lock (pg_relation_size would queue behind it)
       CASE WHEN c.reltuples >= 0 OR EXISTS (
                SELECT 1 FROM pg_locks AS l WHERE l.relation = c.oid
                AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
            THEN c.relpages
            ELSE pg_relation_size(c.oid) / current_setting('block_size')::int END,
       c.relallvisible, c.reltuples,
       -- the statistics functions on this OID, not pg_stat_user_tables (which computes
       -- its row for every table of the database before the join picks one)
       pg_stat_get_dead_tuples(c.oid) + pg_stat_get_ins_since_vacuum(c.oid),
       c.relkind,
       (SELECT p.relname FROM pg_inherits AS h JOIN pg_class AS p ON p.oid = h.inhparent
        WHERE h.inhrelid = c.oid AND c.relispartition LIMIT 1) AS parent,
       pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid)
         + pg_stat_get_tuples_deleted(c.oid) AS writes,
       pg_stat_get_numscans(c.oid) AS seq_scans,
       pg_stat_get_tuples_returned(c.oid) AS seq_rows_read
FROM wanted AS w
JOIN pg_class AS c ON c.oid = w.oid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
"""
)

_STATS_SINCE = CatalogQuery(
    """
SELECT coalesce(to_char(stats_reset, 'YYYY-MM-DD HH24:MI TZ'),
                'the server started collecting them'),
       extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))
FROM pg_stat_database WHERE datname = current_database()
"""
)


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """One index as ``pg_index`` describes it: key and INCLUDE columns by attnum (0 for an
    expression, whose text is in ``key_columns``), directions, collations, operator classes,
    predicate, size, scans, and whether it belongs to a partitioned index."""

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
    scans: int = 0  # pg_stat_user_indexes.idx_scan (summed over partitions for a parent)
    default_opclasses: bool = True
    nulls_first: tuple[bool, ...] = ()
    collations: tuple[int, ...] = ()  # pg_index.indcollation, per column (0: not collatable)
    partitioned: bool = False  # an index on a partitioned table (no storage of its own)
    attached_to: int | None = None  # the partitioned index this partition's index belongs to

    @property
    def protected(self) -> bool:
        """Primary keys, unique indexes and indexes behind constraints are never dropped."""
        return self.primary or self.unique or self.backs_constraint

    @property
    def identifier(self) -> sql.Composable:
        return ident(self.schema, self.name)

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
    """``DROP INDEX CONCURRENTLY``; a partitioned index cannot be dropped concurrently."""
    keyword = "DROP INDEX {};" if index.partitioned else "DROP INDEX CONCURRENTLY {};"
    return sql.SQL(keyword).format(index.identifier).as_string()


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


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key of a table (``conkey`` attnums, in the key's order) and what it references.

    Deleting a referenced row looks its referencing rows up by these columns."""

    name: str
    table_oid: int
    schema: str
    table: str
    attnums: tuple[int, ...]
    columns: tuple[str, ...]
    parent_schema: str
    parent: str
    partitioned: bool = False  # declared on a partitioned table
    parent_oid: int = 0
    parent_attnums: tuple[int, ...] = ()  # ``confkey``, in the key's order
    oid: int = 0
    definition: str = ""  # pg_get_constraintdef: what re-creates it


@dataclass(frozen=True, slots=True)
class TableStats:
    """What the planner and autovacuum know of a table."""

    oid: int
    schema: str
    name: str
    pages: int
    all_visible_pages: int
    tuples: float  # -1: never analyzed
    written: float  # dead rows plus rows inserted since the last vacuum
    kind: str = "r"  # pg_class.relkind: r table, p partitioned, m materialized view, S sequence
    parent: str | None = None  # a partition's partitioned table
    writes: int = 0  # rows inserted, updated and deleted since the statistics were reset
    seq_scans: int = 0  # sequential scans since then, and the rows they read
    seq_rows_read: int = 0

    @property
    def analyzed(self) -> bool:
        return self.tuples >= 0

    @property
    def is_table(self) -> bool:
        """Tables, partitioned tables and materialized views: what an index can serve."""
        return self.kind in ("r", "p", "m")


def read_tables(
    run: Runner,
    oids: Sequence[int],
    *,
    unanalyzed: bool = False,
    named: Sequence[tuple[str | None, str]] = (),
) -> dict[int, TableStats]:
    """The relations ``oids``, and those ``named`` ((schema or None, name) resolved through
    the search_path, in the same round trip), and, with ``unanalyzed``, every table never
    analyzed."""
    return tables_from(run(*tables_query(oids, unanalyzed=unanalyzed, named=named)))


def tables_query(
    oids: Sequence[int],
    *,
    unanalyzed: bool = False,
    named: Sequence[tuple[str | None, str]] = (),
) -> tuple[CatalogQuery, dict[str, Any]]:
    """:func:`read_tables`' query and binds, for a caller that sends it in a pipeline."""
    params = {"oids": list(oids), "unanalyzed": unanalyzed,
              "schemas": [n[0] for n in named], "names": [n[1] for n in named]}  # fmt: skip
    return _TABLES, params


def tables_from(rows: Sequence[Sequence[Any]]) -> dict[int, TableStats]:
    return {
        int(r[0]): TableStats(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]),
                              float(r[5]), float(r[6]), str(r[7]), r[8],
                              *(int(v or 0) for v in r[9:12]))
        for r in rows
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything the doctor's findings look at, read in one transaction."""

    indexes: tuple[IndexInfo, ...]
    columns: Mapping[tuple[int, int], Column] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    tables: Mapping[int, TableStats] = field(default_factory=dict)
    stats_since: str = "?"
    stats_age_s: float = 0.0  # how long the statistics have been collected
    budget: ServerBudget = field(default_factory=lambda: ServerBudget(100, 3, 0))
    widest: Mapping[int, int | str] = field(default_factory=dict)
    """Per index OID: the widest current entry of its unbounded columns, or why not measured."""
    health: Health = field(default_factory=lambda: _no_health())
    """Tables, columns, sequences and loose constraints for doctor's health checks."""

    def inspectable(self) -> list[IndexInfo]:
        """The indexes to judge: readable (no ACCESS EXCLUSIVE lock in the way), and not a
        partition's index attached to a partitioned one — that is judged once, on the parent."""
        return [i for i in self.indexes if not i.locked and i.attached_to is None]

    def locked_tables(self) -> list[str]:
        return sorted(set(self.locked_table_names().values()))

    def locked_table_names(self) -> dict[int, str]:
        """OID -> qualified name of each table whose definitions an ACCESS EXCLUSIVE lock (held
        or awaited by another session) kept from this read."""
        return {i.table_oid: i.table_qualified for i in self.indexes if i.locked}

    def held_columns(self, index: IndexInfo) -> list[Column]:
        """The key and INCLUDE columns of ``index`` (expressions have none)."""
        wanted = index.key_attnums + index.include_attnums
        return [
            self.columns[(index.table_oid, n)]
            for n in wanted
            if (index.table_oid, n) in self.columns
        ]


def _no_health() -> Health:
    from dbtune.health import Health

    return Health()


def _index(row: Sequence[Any]) -> IndexInfo:
    (name, table, schema, valid, unique, primary, backs, nkey, columns, desc, opclasses,
     predicate, method, definition, size, oid, table_oid, attnums, locked, scans,
     default_ops, nulls_first, collations, partitioned, attached_to) = row  # fmt: skip
    return IndexInfo(
        name, table, schema, bool(valid), bool(unique), bool(primary), bool(backs),
        tuple(columns[:nkey]), tuple(desc), tuple(columns[nkey:]), str(opclasses),
        str(predicate), str(method), str(definition), int(size), int(oid), int(table_oid),
        tuple(int(a) for a in attnums[:nkey]), tuple(int(a) for a in attnums[nkey:]),
        bool(locked), int(scans), bool(default_ops), tuple(nulls_first),
        tuple(int(c) for c in collations), bool(partitioned),
        int(attached_to) if attached_to is not None else None,
    )  # fmt: skip


def read_indexes(
    run: Runner,
    *,
    name: str | None = None,
    beside: int | None = None,
    tables: Sequence[int] | None = None,
) -> tuple[IndexInfo, ...]:
    """Every index outside the system schemas, or the one called ``name`` in the schema of
    table ``beside`` (where an index on that table would be created), or those of ``tables``."""
    params = {"index_name": name, "beside": beside,
              "tables": list(tables) if tables is not None else None}  # fmt: skip
    return tuple(_index(r) for r in run(_INDEXES, params))


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


def _measure(conn: Connection, index: IndexInfo, wide: list[Column]) -> int | str:
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


def read_catalog(conn: Connection, *, measure_rows_max: int = 200_000) -> Catalog:
    """Read the catalog in the current transaction (the caller sets the timeouts).

    The widest current value of unbounded indexed columns is measured on tables of at most
    ``measure_rows_max`` estimated rows.
    """
    run = psycopg_runner(conn)
    indexes = read_indexes(run)
    table_oids = sorted({i.table_oid for i in indexes})
    columns = read_columns(run, table_oids)
    tables = read_tables(run, table_oids, unanalyzed=True)
    foreign_keys = tuple(
        ForeignKey(str(r[0]), int(r[1]), str(r[2]), str(r[3]), tuple(int(a) for a in r[4]),
                   tuple(str(c) for c in r[5]), str(r[6]), str(r[7]), bool(r[8]), int(r[9]),
                   tuple(int(a) for a in r[10]), int(r[11]), str(r[12]))
        for r in run(_FOREIGN_KEYS, {})
    )  # fmt: skip
    since = run(_STATS_SINCE, {})
    catalog = Catalog(
        indexes, columns, foreign_keys, tables, str(since[0][0]) if since else "?",
        float(since[0][1] or 0) if since else 0.0, read_budget(conn),
    )  # fmt: skip
    widest: dict[int, int | str] = {}
    for index in catalog.inspectable():
        wide = [c for c in catalog.held_columns(index) if c.unbounded]
        stats = tables.get(index.table_oid)
        if wide and index.method == "btree" and stats and 0 <= stats.tuples <= measure_rows_max:
            widest[index.oid] = _measure(conn, index, wide)
    from dbtune.health import read_health  # its queries live beside the checks' needs

    return replace(catalog, widest=widest, health=read_health(run))


def rebuild_sql(index: IndexInfo) -> str:
    """The statement that builds ``index`` again: concurrently, or, for a partitioned index
    (CONCURRENTLY is refused there), a plain build on the parent and all its partitions."""
    if index.partitioned:
        return index.definition.replace(" ON ONLY ", " ON ", 1)
    return index.definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
