"""Would this ALTER rewrite the table? Asked of the server, not guessed from the SQL.

Whether ``ADD COLUMN ... DEFAULT expr`` is a catalog change or a rewrite depends on the
expression's volatility (``now()`` is stable, so it is fast; ``clock_timestamp()`` and
``gen_random_uuid()`` are volatile), on domains and on casts; whether ``ALTER COLUMN ... TYPE``
rewrites depends on binary coercibility and typmods (``varchar(20)`` -> ``varchar(40)`` does
not, ``numeric(10,2)`` -> ``numeric(10,3)`` does). Rather than re-implement those rules, the
probe makes an empty temporary table with the same column, runs the same ALTER on it inside a
savepoint, and looks at whether PostgreSQL gave the table (or the column's index) a new
``relfilenode``: a rewrite always does, even of an empty table. The savepoint is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.catalog import Column
from dbtune.migrations.statements import text

PROBE = sql.Identifier("pg_temp", "dbtune_rewrite_probe")
_FILES = sa.text(
    """
    SELECT c.relfilenode, coalesce(array_agg(ic.relfilenode ORDER BY ic.oid)
                                   FILTER (WHERE ic.oid IS NOT NULL), '{}')
    FROM pg_class AS c
    LEFT JOIN pg_index AS i ON i.indrelid = c.oid
    LEFT JOIN pg_class AS ic ON ic.oid = i.indexrelid
    WHERE c.oid = to_regclass('pg_temp.dbtune_rewrite_probe')
    GROUP BY c.relfilenode
    """
)
_TYPE = sa.text(
    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = to_regclass('pg_temp.dbtune_rewrite_probe') AND attname = 'probe'"
)


@dataclass(frozen=True, slots=True)
class Probe:
    rewrites: bool
    type_sql: str | None  # the probe column's type afterwards, as format_type spells it


def probe(
    conn: sa.Connection,
    column: sql.Composable | None,
    change: sql.Composable,
    *,
    indexed: bool = False,
) -> Probe:
    """Run ``change`` (an ALTER TABLE subcommand naming column ``probe``) on a temporary copy
    of ``column`` (its type and collation, as ``probe <type> [COLLATE c]``; None: no column)."""
    # A savepoint inside the revision's transaction; a transaction of its own outside one.
    scope = conn.begin_nested() if conn.in_transaction() else conn.begin()
    with scope as savepoint:
        columns = sql.SQL("dbtune_row int") if column is None else column
        conn.execute(text(sql.SQL("CREATE TEMP TABLE {} ({})").format(PROBE, columns)))
        if indexed:  # a type without a default btree operator class gets no index copy
            try:
                with conn.begin_nested():
                    conn.execute(text(sql.SQL("CREATE INDEX ON {} (probe)").format(PROBE)))
            except sa.exc.DBAPIError:
                pass
        before = tuple(conn.execute(_FILES).one())
        conn.execute(text(sql.SQL("ALTER TABLE {} {}").format(PROBE, change)))
        after = tuple(conn.execute(_FILES).one())
        type_sql = conn.execute(_TYPE).scalar()
        savepoint.rollback()
    return Probe(before[0] != after[0] or list(before[1]) != list(after[1]), type_sql)


def column_copy(facts: Column) -> sql.Composable:
    collate = (
        sql.SQL(" COLLATE {}").format(sql.SQL(facts.collation)) if facts.collation else sql.SQL("")
    )
    return sql.SQL("probe {}{}").format(sql.SQL(facts.type_sql), collate)
