"""The statements worth checking, as ``pg_stat_statements`` has counted them.

The view holds every statement the server ran, normalized (constants replaced by ``$n``).
Kept: the top-level SELECT / INSERT / UPDATE / DELETE / MERGE statements of *this* database
with at least ``min_calls`` calls, that name a table outside the system schemas which still
exists, ordered by total execution time. Left out: utility statements (BEGIN, SET, EXPLAIN,
DDL), catalog queries, statements whose tables are gone, Alembic's version-table bookkeeping,
and dbtune's own (the seed's and the benchmark's statements carry a ``/* dbtune */``
comment). Entries of the same statement (pglast's fingerprint) are merged. Each is parsed with
pglast, never matched by text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from pglast.parser import ParseError, fingerprint
from psycopg import sql

from dbtune.catalog import psycopg_runner, read_tables
from dbtune.errors import UsageError
from dbtune.sql.identifiers import ident
from dbtune.sql.text import OWN_MARKER, Access, SqlTextError, StatementInfo, analyse, comments

Connection = psycopg.Connection[tuple[Any, ...]]

SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
VERSION_TABLES = frozenset({"alembic_version", "dbtune_ops_version"})
"""Alembic's bookkeeping (and an ops chain's): a migration's statements, not the service's."""
HIDDEN_TEXT = "<insufficient privilege>"
"""What pg_stat_statements shows instead of another role's statement to a role without
pg_read_all_stats."""
TOPLEVEL_VERSION = 140_000  # pg_stat_statements 1.9 (PostgreSQL 14) has the toplevel column

_READ = """
SELECT /* dbtune */ s.queryid, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows
FROM pg_stat_statements AS s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.calls >= %(min_calls)s {toplevel}
ORDER BY s.total_exec_time DESC
LIMIT %(scan)s
"""


@dataclass(frozen=True, slots=True)
class Statement:
    """One normalized statement and what the server counted for it."""

    queryid: int
    sql: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    info: StatementInfo
    tables: tuple[tuple[str, str], ...]  # (schema, name) of the tables it names, resolved


def missing_extension_help(conn: Connection) -> str | None:
    """What to do when pg_stat_statements cannot be read here, or None when it can."""
    installed = conn.execute(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
    ).fetchone()
    if installed and installed[0]:
        return None
    try:
        with conn.transaction():
            row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        # Only a superuser or pg_read_all_settings may read it: say what to ask for instead.
        return (
            "pg_stat_statements is not created in this database, and this role may not read "
            "shared_preload_libraries to tell whether the server loads it. Ask a superuser "
            "to check `SHOW shared_preload_libraries` (add pg_stat_statements there and "
            "restart the server if it is missing), to run CREATE EXTENSION "
            "pg_stat_statements; in this database, and to GRANT pg_read_all_stats to this "
            "role (without it the view hides other roles' statements); then let the "
            "application run a while and capture again"
        )
    if row and "pg_stat_statements" in str(row[0]):
        return (
            "pg_stat_statements is loaded but not created in this database: run CREATE "
            "EXTENSION pg_stat_statements; here (as a superuser or the database owner), let "
            "the application run a while, then capture again"
        )
    return (
        "pg_stat_statements is not loaded: add it to shared_preload_libraries in "
        "postgresql.conf (shared_preload_libraries = 'pg_stat_statements'), restart the "
        "server, run CREATE EXTENSION pg_stat_statements; in this database, let the "
        "application run a while, then capture again (dbtune's embedded server does this "
        "itself: run capture without --dsn)"
    )


def worth_checking(text: str) -> StatementInfo | None:
    """What a statement the server ran (plain SQL, ``$n`` allowed) reads or writes, or None
    when it is not a query of the service's: a utility statement, one naming only catalogs
    (by schema, or an unqualified ``pg_`` name), one that does not parse, or dbtune's own.
    The capture and the pytest plugin both ask this."""
    if OWN_MARKER in comments(text):
        return None
    try:
        info = analyse(text.replace("%", "%%"))  # plain SQL: no psycopg placeholders in it
    except SqlTextError:
        return None
    if info.access is Access.OTHER or not info.relations:
        return None
    if all(r.schema in SYSTEM_SCHEMAS or (r.schema is None and r.name.startswith("pg_"))
           for r in info.relations):  # fmt: skip
        return None
    return info


def _tables_of(conn: Connection, info: StatementInfo) -> tuple[tuple[str, str], ...]:
    """(schema, name) of each table the statement names that exists, in the statement's order
    (its first table names it)."""
    named = [(r.schema, r.name) for r in info.relations]
    resolved = read_tables(psycopg_runner(conn), [], named=named).values()
    position = {name: i for i, (_, name) in reversed(list(enumerate(named)))}
    return tuple(
        (t.schema, t.name)
        for t in sorted(resolved, key=lambda t: position.get(t.name, len(named)))
        if t.schema not in SYSTEM_SCHEMAS
    )


def _merged(first: Statement, calls: int, total: float, count: int) -> Statement:
    """One statement's entries added up (other roles, a plan cached or not)."""
    added = first.calls + calls
    total_ms = first.total_ms + total
    mean_ms = total_ms / max(added, 1)
    return replace(first, calls=added, total_ms=total_ms, mean_ms=mean_ms, rows=first.rows + count)


def _statement(conn: Connection, row: Sequence[Any]) -> Statement | None:
    """The entry as a statement to check, or None: not worth checking, its tables gone, or
    it names only catalogs (a CTE's name is no table) or a version table."""
    queryid, text, calls, total, mean, count = row
    info = worth_checking(str(text))
    if info is None:
        return None
    tables = _tables_of(conn, info)
    if not tables or any(name in VERSION_TABLES for _, name in tables):
        return None
    figures = (int(calls), float(total), float(mean), int(count))
    return Statement(int(queryid), str(text), *figures, info, tables)


def read_statements(conn: Connection, *, top: int, min_calls: int) -> list[Statement]:
    """The ``top`` statements worth checking, by total execution time (see the module)."""
    problem = missing_extension_help(conn)
    if problem is not None:
        raise UsageError(problem)
    toplevel = "AND s.toplevel" if conn.info.server_version >= TOPLEVEL_VERSION else ""
    rows = conn.execute(
        _READ.format(toplevel=toplevel), {"min_calls": min_calls, "scan": top * 20 + 100}
    ).fetchall()
    found: list[Statement] = []
    by_print: dict[str, int] = {}
    for row in rows:
        # One statement may have several entries: one query to check, its counts added up.
        try:
            print_ = fingerprint(str(row[1]))
        except ParseError:  # a utility statement pg_stat_statements normalized beyond SQL
            continue
        if print_ in by_print:
            at = by_print[print_]
            found[at] = _merged(found[at], int(row[2]), float(row[3]), int(row[5]))
            continue
        statement = _statement(conn, row)
        if statement is None:
            continue
        by_print[print_] = len(found)
        found.append(statement)
        if len(found) == top:
            break
    hidden = sum(1 for row in rows if row[1] == HIDDEN_TEXT)
    if not found and hidden:
        grant = sql.SQL("GRANT pg_read_all_stats TO {}").format(ident(conn.info.user))
        raise UsageError(
            f"pg_stat_statements hides the text of {hidden} statement(s) of other roles from "
            f"this role: a superuser can run {grant.as_string()}; then capture again"
        )
    return found
