"""Tables (sizes, visibility, writes, analyze state) and foreign keys, by OID and attnum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbtune.catalog.query import CatalogQuery, Runner

FOREIGN_KEYS = CatalogQuery(
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
    UNION  -- with :every, every table of the user schemas (doctor's health checks)
    SELECT c.oid FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE CAST(:every AS boolean) AND c.relkind IN ('r', 'p', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_(toast|temp)'
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
       pg_stat_get_tuples_returned(c.oid) AS seq_rows_read,
       c.relpersistence, c.relispartition,
       EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conrelid = c.oid AND k.contype = 'p'),
       pg_stat_get_mod_since_analyze(c.oid),
       CASE WHEN c.relkind IN ('r', 'm', 't') THEN age(c.relfrozenxid) ELSE 0 END,
       coalesce((SELECT CAST(split_part(o, '=', 2) AS int) FROM unnest(c.reloptions) AS o
                 WHERE o LIKE 'fillfactor=%'), 100)
FROM wanted AS w
JOIN pg_class AS c ON c.oid = w.oid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
"""
)


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
class Table:
    """A table as the catalog, the planner and autovacuum know it: the one table record of
    explain, the advisor and doctor."""

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
    persistence: str = "p"  # p permanent, u unlogged
    partition: bool = False
    has_primary_key: bool = True
    modified_since_analyze: int = 0
    xid_age: int = 0
    fillfactor: int = 100

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
    every: bool = False,
) -> dict[int, Table]:
    """The relations ``oids``, and those ``named`` ((schema or None, name) resolved through
    the search_path, in the same round trip); with ``unanalyzed``, every table never
    analyzed; with ``every``, every table of the user schemas."""
    return tables_from(run(*tables_query(oids, unanalyzed=unanalyzed, named=named, every=every)))


def tables_query(
    oids: Sequence[int],
    *,
    unanalyzed: bool = False,
    named: Sequence[tuple[str | None, str]] = (),
    every: bool = False,
) -> tuple[CatalogQuery, dict[str, Any]]:
    """:func:`read_tables`' query and binds, for a caller that sends it in a pipeline."""
    params = {"oids": list(oids), "unanalyzed": unanalyzed, "every": every,
              "schemas": [n[0] for n in named], "names": [n[1] for n in named]}  # fmt: skip
    return _TABLES, params


def _table(r: Sequence[Any]) -> Table:
    return Table(
        int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), float(r[5]), float(r[6]),
        kind=str(r[7]), parent=r[8], writes=int(r[9] or 0), seq_scans=int(r[10] or 0),
        seq_rows_read=int(r[11] or 0), persistence=str(r[12]), partition=bool(r[13]),
        has_primary_key=bool(r[14]), modified_since_analyze=int(r[15] or 0),
        xid_age=int(r[16] or 0), fillfactor=int(r[17]),
    )  # fmt: skip


def tables_from(rows: Sequence[Sequence[Any]]) -> dict[int, Table]:
    return {int(r[0]): _table(r) for r in rows}
