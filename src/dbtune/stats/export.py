"""Read a database's planner statistics: relation sizes from ``pg_class``, column statistics
from ``pg_stats`` (what a role with ``pg_read_all_stats`` may read; PostgreSQL 14+). Reads
only, in a read-only transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from dbtune.stats.file import COLUMN_KEYS, FORMAT, VALUE_KEYS, VERSION

# _COLUMNS selects COLUMN_KEYS in this order, after the five name and type columns.

Connection = psycopg.Connection[tuple[Any, ...]]

_RELATIONS = """
SELECT /* dbtune */ n.nspname, c.relname, c.relkind, c.relpages, c.reltuples, c.relallvisible,
       t.relname AS index_of
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_index AS i ON i.indexrelid = c.oid
LEFT JOIN pg_class AS t ON t.oid = i.indrelid
WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  AND (cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY(%(schemas)s::text[]))
  AND (cardinality(%(tables)s::text[]) = 0
       OR coalesce(t.relname, c.relname) = ANY(%(tables)s::text[]))
ORDER BY n.nspname, coalesce(t.relname, c.relname), c.relkind IN ('i', 'I'), c.relname
"""

_COLUMNS = """
SELECT /* dbtune */ s.schemaname, s.tablename, s.attname, s.inherited,
       format_type(a.atttypid, a.atttypmod),
       s.null_frac, s.avg_width, s.n_distinct, s.most_common_vals::text, s.most_common_freqs,
       s.histogram_bounds::text, s.correlation, s.most_common_elems::text,
       s.most_common_elem_freqs, s.elem_count_histogram
FROM pg_stats AS s
JOIN pg_namespace AS n ON n.nspname = s.schemaname
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = s.tablename
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = s.attname
WHERE (cardinality(%(schemas)s::text[]) = 0 OR s.schemaname = ANY(%(schemas)s::text[]))
  AND (cardinality(%(tables)s::text[]) = 0 OR s.tablename = ANY(%(tables)s::text[]))
  AND s.schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, a.attnum, 4
"""


def export_stats(
    conn: Connection, *, schemas: Sequence[str] = (), tables: Sequence[str] = (),
    values: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Every table's (and index's) sizes and every column's statistics, as the file holds
    them; ``values=False`` leaves out the columns' real values (:data:`VALUE_KEYS`)."""
    binds = {"schemas": list(schemas), "tables": list(tables)}
    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    conn.read_only = True
    with conn.transaction(force_rollback=True):
        for schema, name, kind, pages, tuples, visible, index_of in conn.execute(_RELATIONS, binds):
            sizes = {"relpages": int(pages), "reltuples": float(tuples),
                     "relallvisible": int(visible)}  # fmt: skip
            if index_of is None:
                by_name[(schema, name)] = {"schema": schema, "name": name, "kind": kind,
                                           **sizes, "indexes": [], "columns": []}  # fmt: skip
            elif (schema, index_of) in by_name:
                by_name[(schema, index_of)]["indexes"].append({"name": name, **sizes})
        for row in conn.execute(_COLUMNS, binds):
            table = by_name.get((row[0], row[1]))
            if table is None:
                continue
            column: dict[str, Any] = {"name": row[2], "inherited": bool(row[3]), "type": row[4]}
            for key, value in zip(COLUMN_KEYS, row[5:], strict=True):
                if value is not None and (values or key not in VALUE_KEYS):
                    column[key] = list(value) if isinstance(value, list) else value
            table["columns"].append(column)
    return {
        "format": FORMAT,
        "version": VERSION,
        "server_version": conn.info.server_version,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "values": values,
        "tables": list(by_name.values()),
    }
