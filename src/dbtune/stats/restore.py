"""Apply a statistics file to a database of the same schema (PostgreSQL 18+).

Tables are matched by schema and name (``to_regclass``, so mixed-case and quoted names work),
columns by name with their type checked, indexes by name beside their table; what does not
match is listed and skipped. Everything is applied in one transaction (nothing half-applied),
through ``pg_restore_relation_stats`` and ``pg_restore_attribute_stats``: rows are never
touched. The next ``ANALYZE`` (or autovacuum's) of a table replaces what was imported, so
autovacuum is switched off on the imported tables unless asked not to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from dbtune.errors import UsageError
from dbtune.sql.identifiers import ident
from dbtune.stats.file import COLUMN_KEYS, RELATION_KEYS
from dbtune.stats.grow import GROW_LIMIT_MB, Grown, grow_files

Connection = psycopg.Connection[tuple[Any, ...]]

RESTORE_VERSION = 180_000
MATCHED_MIN = 0.5
"""Under this share of the file's tables found here, the file is from another schema."""

_TYPES = {
    "relpages": "integer", "reltuples": "real", "relallvisible": "integer",
    "null_frac": "real", "avg_width": "integer", "n_distinct": "real",
    "most_common_vals": "text", "most_common_freqs": "real[]", "histogram_bounds": "text",
    "correlation": "real", "most_common_elems": "text", "most_common_elem_freqs": "real[]",
    "elem_count_histogram": "real[]",
}  # fmt: skip

_RELATION = """
SELECT c.oid, c.relkind FROM pg_class AS c WHERE c.oid = to_regclass(%s)
"""


def _find(conn: Connection, schema: str, name: str) -> tuple[int, str] | None:
    """The relation's OID and kind, by name exactly as the file spells it."""
    row = conn.execute(_RELATION, [sql.Identifier(schema, name).as_string(conn)]).fetchone()
    return (int(row[0]), str(row[1])) if row else None


_COLUMN_TYPES = """
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped
"""


class OtherSchema(UsageError):
    """The file's tables are mostly not in this database (yet: a test database before its
    migrations have run)."""


@dataclass
class Restored:
    tables: int = 0
    indexes: int = 0
    columns: int = 0
    skipped: list[str] = field(default_factory=list)
    autovacuum_off: list[str] = field(default_factory=list)
    grown: Grown = field(default_factory=Grown)


def _call(
    function: str, names: tuple[str, ...], values: Mapping[str, Any]
) -> tuple[sql.Composed, list[Any]]:
    """``SELECT function('schemaname', $1::text, ..., 'key', $n::type, ...)``: every value
    bound, every type cast (the functions take VARIADIC "any")."""
    pairs = [("schemaname", "text", names[0]), ("relname", "text", names[1])]
    if len(names) > 2:
        pairs += [("attname", "text", names[2]), ("inherited", "boolean", values["inherited"])]
    pairs += [(k, _TYPES[k], v) for k, v in values.items() if k in _TYPES and v is not None]
    args = sql.SQL(", ").join(
        sql.SQL("{}, {}::{}").format(sql.Literal(k), sql.Placeholder(), sql.SQL(t))
        for k, t, _ in pairs
    )
    return sql.SQL("SELECT {}({})").format(sql.Identifier(function), args), [v for *_, v in pairs]


def _restore(conn: Connection, function: str, names: tuple[str, ...], values: Mapping[str, Any],
             what: str, done: Restored) -> bool:  # fmt: skip
    query, params = _call(function, names, values)
    row = conn.execute(query, params).fetchone()
    if row is None or not row[0]:
        done.skipped.append(f"{what}: the server did not take every figure (see its warning)")
        return False
    return True


def _table(
    conn: Connection, entry: Mapping[str, Any], done: Restored, keep_autovacuum: bool
) -> None:
    schema, name = str(entry["schema"]), str(entry["name"])
    qualified = ident(schema, name)
    found = _find(conn, schema, name)
    if found is None:
        done.skipped.append(f"table {qualified.as_string(conn)}: not in this database")
        return
    oid, kind = found
    sizes = {k: entry.get(k) for k in RELATION_KEYS}
    if _restore(conn, "pg_restore_relation_stats", (schema, name), sizes,
                f"table {qualified.as_string(conn)}", done):  # fmt: skip
        done.tables += 1
    for index in entry.get("indexes") or ():
        index_name = str(index["name"])
        if _find(conn, schema, index_name) is None:
            done.skipped.append(f"index {schema}.{index_name}: not in this database")
            continue
        sizes = {k: index.get(k) for k in RELATION_KEYS}
        what = f"index {index_name}"
        if _restore(conn, "pg_restore_relation_stats", (schema, index_name), sizes, what, done):
            done.indexes += 1
    types = {str(n): str(t) for n, t in conn.execute(_COLUMN_TYPES, [oid]).fetchall()}
    for column in entry.get("columns") or ():
        col = str(column["name"])
        where = f"column {qualified.as_string(conn)}.{ident(col).as_string(conn)}"
        if col not in types:
            done.skipped.append(f"{where}: not in this table")
        elif types[col] != column.get("type"):
            done.skipped.append(f"{where}: its type changed ({column.get('type')} in the file, "
                                f"{types[col]} here)")  # fmt: skip
        else:
            figures = {k: column.get(k) for k in ("inherited", *COLUMN_KEYS)}
            if _restore(conn, "pg_restore_attribute_stats", (schema, name, col), figures,
                        where, done):  # fmt: skip
                done.columns += 1
    if not keep_autovacuum and kind in ("r", "m"):
        # vacuum_truncate: a VACUUM would otherwise give a grown file's free pages back.
        conn.execute(
            sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = off, vacuum_truncate = off)").format(
                qualified
            )
        )
        done.autovacuum_off.append(qualified.as_string(conn))


def restore_stats(
    conn: Connection, data: Mapping[str, Any], *, keep_autovacuum: bool = False,
    grow_limit_bytes: int = 0, other_schema_ok: bool = False,
) -> Restored:  # fmt: skip
    """Apply ``data`` (a read statistics file) in one transaction; what did not match is listed
    in ``skipped``. With ``grow_limit_bytes``, tables smaller here than in the file first get
    their files grown (:mod:`.grow`), without which the planner keeps sizing them by their
    rows here. Raises :class:`UsageError` before anything is applied for a server older
    than 18 or a file whose tables are mostly not here (unless ``other_schema_ok``: trace's
    scratch database, whose tables come one revision at a time)."""
    if conn.info.server_version < RESTORE_VERSION:
        raise UsageError(
            f"importing statistics needs PostgreSQL 18 or later (pg_restore_relation_stats); "
            f"this server is {conn.info.server_version // 10000}: import into a PostgreSQL 18 "
            "test database (dbtune's embedded server is 18)"
        )
    tables = list(data["tables"])
    present = sum(1 for t in tables if _find(conn, str(t["schema"]), str(t["name"])))
    if tables and present < MATCHED_MIN * len(tables) and not other_schema_ok:
        raise OtherSchema(
            f"only {present} of the file's {len(tables)} tables are in this database: the file "
            "is from another schema. Export from a database of the same schema (the same "
            "migrations), or pass --schema/--table to export only what this one has"
        )
    done = Restored()
    with conn.transaction():
        if grow_limit_bytes > 0:
            done.grown = grow_files(conn, tables, limit_bytes=grow_limit_bytes)
        for entry in tables:
            _table(conn, entry, done, keep_autovacuum)
    return done


def import_before(conn: Connection, data: Mapping[str, Any], revision: str) -> list[str]:
    """``trace --stats``: the statistics of the tables that exist before ``revision``, their
    files grown (so its UPDATEs and scans plan, and its rewrites read, at production's
    scale); notes for what could not be done. Tables the chain has not created yet are no
    news, and a table's figures are imported again before each revision (a rewrite resets
    them)."""
    done = restore_stats(conn, data, grow_limit_bytes=GROW_LIMIT_MB << 20, other_schema_ok=True)
    notes = [
        f"statistics: {why}"
        for why in (*done.skipped, *done.grown.skipped)
        if not why.endswith("not in this database")
    ]
    if done.grown.tables:
        notes.append(f"statistics: before {revision}, grew {'; '.join(done.grown.tables)}")
    return notes
