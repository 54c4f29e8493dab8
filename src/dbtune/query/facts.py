"""What the catalog says of the tables one query names: read once per query, by OID.

explain's hints and the advisor's suggestion both start here, so they see the same columns,
indexes and statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from dbtune.catalog import (
    Column,
    IndexInfo,
    Table,
    psycopg_runner,
    read_columns,
    read_indexes,
)
from dbtune.query.sargable import TableHintFacts, hints
from dbtune.sql.shape import QueryShape

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class QueryFacts:
    """What the catalog says of the query's tables, for hints and the advisor."""

    shape: QueryShape
    relations: Mapping[str, Table]
    indexes: tuple[IndexInfo, ...]
    facts: Mapping[str, TableHintFacts]  # by table name as the query spells it
    columns: Mapping[tuple[int, int], Column]

    def hints(self) -> tuple[str, ...]:
        return tuple(
            h for use in self.shape.tables if use.name in self.facts
            for h in hints(use, self.facts[use.name])
        )  # fmt: skip

    named_elsewhere: frozenset[str] = frozenset()
    """Index names asked about that exist, but on none of the query's tables."""

    def has_index(self, name: str) -> bool:
        """An index called ``name`` exists (on the query's tables, or one asked about)."""
        return any(i.name == name for i in self.indexes) or name in self.named_elsewhere


_INDEX_NAMED = "SELECT count(*) FROM pg_class WHERE relname = %s AND relkind IN ('i', 'I')"


def query_facts(
    conn: Connection,
    query_shape: QueryShape,
    relations: Mapping[str, Table],
    expected: str | None = None,
) -> QueryFacts:
    """Columns and indexes of the tables the query names (by OID), read once; and whether an
    index called ``expected`` exists at all."""
    run = psycopg_runner(conn)
    oids = {u.name: relations[u.name].oid for u in query_shape.tables if u.name in relations}
    tables = sorted({*oids.values(), *(r.oid for r in relations.values())})
    columns = read_columns(run, sorted(set(oids.values())))
    indexes = read_indexes(run, tables=tables)
    elsewhere: frozenset[str] = frozenset()
    if expected and not any(i.name == expected for i in indexes):
        row = conn.execute(_INDEX_NAMED, [expected]).fetchone()
        elsewhere = frozenset({expected}) if row and row[0] else frozenset()
    facts = {name: TableHintFacts.of(oid, columns.values(), indexes) for name, oid in oids.items()}
    return QueryFacts(query_shape, relations, indexes, facts, columns, elsewhere)
