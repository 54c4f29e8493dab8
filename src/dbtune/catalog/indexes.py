"""Every index, by OID: key and INCLUDE attnums, directions, operator classes, predicate, scans;
the text of a table under an ACCESS EXCLUSIVE lock is not read (``locked``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from dbtune.catalog.query import CatalogQuery, Runner
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import IndexKey, IndexSpec
from dbtune.sql.text import same_expression

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
       (SELECT h.inhparent FROM pg_inherits AS h WHERE h.inhrelid = i.indexrelid) AS attached_to,
       -- each key's collation and operator class by name, NULL where it is the default
       array(SELECT CASE WHEN i.indcollation[k - 1] = 0
                           OR i.indcollation[k - 1] = a.attcollation
                           OR (i.indkey[k - 1] = 0 AND i.indcollation[k - 1] = 100)
                         THEN NULL
                         WHEN cn.nspname = 'pg_catalog' THEN co.collname::text
                         ELSE cn.nspname || '.' || co.collname END
             FROM generate_series(1, i.indnkeyatts) AS k
             LEFT JOIN pg_attribute AS a
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
             LEFT JOIN pg_collation AS co ON co.oid = i.indcollation[k - 1]
             LEFT JOIN pg_namespace AS cn ON cn.oid = co.collnamespace
             ORDER BY k) AS collation_names,
       array(SELECT CASE WHEN o.opcdefault THEN NULL
                         WHEN opn.nspname = 'pg_catalog' THEN o.opcname::text
                         ELSE opn.nspname || '.' || o.opcname END
             FROM generate_series(1, i.indnkeyatts) AS k
             JOIN pg_opclass AS o ON o.oid = i.indclass[k - 1]
             JOIN pg_namespace AS opn ON opn.oid = o.opcnamespace
             ORDER BY k) AS opclass_names
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
  AND (CAST(:schema AS name) IS NULL OR n.nspname = CAST(:schema AS name))
ORDER BY n.nspname, t.relname, c.relname
"""
)


# A domain's width is its base type's with the domain's typmod, narrowed by its CHECKs.
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
    key_collations: tuple[str | None, ...] = ()  # by name, None where the default
    key_opclasses: tuple[str | None, ...] = ()  # by name, None where the default

    def keys(self) -> tuple[IndexKey, ...]:
        """Each key exactly, from the catalog by attnum (an expression's own text, column by
        column): what builds this index again."""
        return tuple(self._key(k) for k in range(len(self.key_attnums)))

    def _key(self, k: int) -> IndexKey:
        text = self.key_columns[k]
        column, expression = (text, "") if self.key_attnums[k] else ("", text)
        nulls_first = self.nulls_first[k] if k < len(self.nulls_first) else None
        return IndexKey(
            column,
            expression,
            self.descending[k],
            None if nulls_first == self.descending[k] else nulls_first,  # the default: unsaid
            self.key_collations[k] if k < len(self.key_collations) else None,
            self.key_opclasses[k] if k < len(self.key_opclasses) else None,
        )

    def spec(self) -> IndexSpec:
        """The index as ``create_index_online`` builds it: every key, the INCLUDE list, the
        predicate, uniqueness and the access method, read from the catalog by OID."""
        where = self.predicate or None
        keys = self.keys()
        return IndexSpec(self.name, self.table, keys, self.include, where, self.unique, self.method)

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

    def leads_with(self, key: Sequence[tuple[int, bool]], where: str | None) -> bool:
        """A btree index whose leading key columns are ``key`` ((attnum, descending) pairs),
        with those directions or all of them reversed (a btree reads both ways), and with the
        same predicate (none, or the same expression): it serves what an index on ``key``
        would. The one test of "an existing index already is this one" for the per-query
        advisor and advise."""
        if self.method != "btree" or not same_expression(self.predicate or None, where):
            return False
        wanted = list(key)
        flipped = [(a, not d) for a, d in wanted]
        have = list(zip(self.key_attnums, self.descending, strict=False))[: len(wanted)]
        return len(have) == len(wanted) and have in (wanted, flipped)


def quoted(*names: str) -> str:
    """``"App Schema"."Bad Index"``: a name as it must appear in SQL."""
    return ident(*names).as_string()


def drop_index_sql(index: IndexInfo) -> str:
    """``DROP INDEX CONCURRENTLY``; a partitioned index cannot be dropped concurrently."""
    keyword = "DROP INDEX {};" if index.partitioned else "DROP INDEX CONCURRENTLY {};"
    return sql.SQL(keyword).format(index.identifier).as_string()


def _index(row: Sequence[Any]) -> IndexInfo:
    (name, table, schema, valid, unique, primary, backs, nkey, columns, desc, opclasses,
     predicate, method, definition, size, oid, table_oid, attnums, locked, scans,
     default_ops, nulls_first, collations, partitioned, attached_to, collation_names,
     opclass_names) = row  # fmt: skip
    return IndexInfo(
        name, table, schema, bool(valid), bool(unique), bool(primary), bool(backs),
        tuple(columns[:nkey]), tuple(desc), tuple(columns[nkey:]), str(opclasses),
        str(predicate), str(method), str(definition), int(size), int(oid), int(table_oid),
        tuple(int(a) for a in attnums[:nkey]), tuple(int(a) for a in attnums[nkey:]),
        bool(locked), int(scans), bool(default_ops), tuple(nulls_first),
        tuple(int(c) for c in collations), bool(partitioned),
        int(attached_to) if attached_to is not None else None,
        tuple(collation_names or ()), tuple(opclass_names or ()),
    )  # fmt: skip


def read_indexes(
    run: Runner,
    *,
    name: str | None = None,
    beside: int | None = None,
    tables: Sequence[int] | None = None,
    schema: str | None = None,
) -> tuple[IndexInfo, ...]:
    """Every index outside the system schemas, or the one called ``name`` in the schema of
    table ``beside`` (where an index on that table would be created), or those of ``tables``,
    or those of ``schema``."""
    params = {"index_name": name, "beside": beside, "schema": schema,
              "tables": list(tables) if tables is not None else None}  # fmt: skip
    return tuple(_index(r) for r in run(_INDEXES, params))


def rebuild_sql(index: IndexInfo) -> str:
    """The statement that builds ``index`` again, from its keys read by OID (built, never
    pasted from ``pg_get_indexdef``): concurrently, or, for a partitioned index (CONCURRENTLY
    is refused there), a plain build on the parent and all its partitions."""
    statement = index.spec().statement(index.schema, concurrently=not index.partitioned)
    return statement.as_string()
