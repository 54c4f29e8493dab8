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

Layout: :mod:`.query` (one query text for psycopg and SQLAlchemy), :mod:`.indexes`,
:mod:`.columns`, :mod:`.tables` (tables and foreign keys), :mod:`.health` (what doctor's health
checks read besides), and here the :class:`Catalog` of one read and :func:`read_catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dbtune.catalog.columns import Column, measure_widest, read_columns
from dbtune.catalog.health import Health, read_health
from dbtune.catalog.indexes import IndexInfo, drop_index_sql, quoted, read_indexes, rebuild_sql
from dbtune.catalog.query import (
    CatalogQuery,
    Connection,
    Runner,
    psycopg_query,
    psycopg_runner,
    sqlalchemy_runner,
)
from dbtune.catalog.tables import (
    FOREIGN_KEYS,
    ForeignKey,
    Table,
    read_tables,
    tables_from,
    tables_query,
)
from dbtune.pool.budget import ServerBudget, read_budget

_STATS_SINCE = CatalogQuery(
    """
SELECT coalesce(to_char(stats_reset, 'YYYY-MM-DD HH24:MI TZ'),
                'the server started collecting them'),
       extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))
FROM pg_stat_database WHERE datname = current_database()
"""
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Everything the doctor's findings look at, read in one transaction."""

    indexes: tuple[IndexInfo, ...]
    columns: Mapping[tuple[int, int], Column] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    tables: Mapping[int, Table] = field(default_factory=dict)
    stats_since: str = "?"
    stats_age_s: float = 0.0  # how long the statistics have been collected
    budget: ServerBudget = field(default_factory=lambda: ServerBudget(100, 3, 0))
    widest: Mapping[int, int | str] = field(default_factory=dict)
    """Per index OID: the widest current entry of its unbounded columns, or why not measured."""
    health: Health = field(default_factory=Health)
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
        for r in run(FOREIGN_KEYS, {})
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
            widest[index.oid] = measure_widest(conn, index, wide)
    return replace(catalog, widest=widest, health=read_health(run))


__all__ = [
    "Catalog",
    "CatalogQuery",
    "Column",
    "Connection",
    "ForeignKey",
    "Health",
    "IndexInfo",
    "Runner",
    "Table",
    "drop_index_sql",
    "psycopg_query",
    "psycopg_runner",
    "quoted",
    "read_catalog",
    "read_columns",
    "read_indexes",
    "read_tables",
    "rebuild_sql",
    "sqlalchemy_runner",
    "tables_from",
    "tables_query",
]
