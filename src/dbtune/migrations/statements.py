"""Running composed SQL through Alembic, online and offline alike.

Statements are built with ``psycopg.sql`` (every name an ``Identifier``, every value a
``Literal``) and rendered to text without a connection. ``op.execute`` wraps text in
``sqlalchemy.text()``, which would read ``:name`` inside a quoted identifier as a bind
parameter, so colons are escaped for it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from dbtune.sql.identifiers import ident


def text(statement: sql.Composable | str) -> sa.TextClause:
    """``statement`` as a SQLAlchemy text clause that binds nothing."""
    rendered = statement if isinstance(statement, str) else statement.as_string()
    return sa.text(rendered.replace(":", "\\:"))


def execute(statement: sql.Composable | str) -> None:
    """Run (online) or print (``alembic upgrade --sql``) one statement."""
    op.execute(text(statement))


def set_lock_timeout(value: str, *, local: bool = False) -> sql.Composed:
    return sql.SQL("SET {}lock_timeout = {}").format(
        sql.SQL("LOCAL " if local else ""), sql.Literal(value)
    )


def validate_constraint(table: sql.Composable, name: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(table, ident(name))


def drop_constraint(table: sql.Composable, name: str, *, if_exists: bool = True) -> sql.Composed:
    guard = sql.SQL("IF EXISTS ") if if_exists else sql.SQL("")
    return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}{}").format(table, guard, ident(name))


def undone(statement: sql.Composable) -> bool:
    """Run a clean-up statement after a failure; False when it could not run (a lock wait,
    a dropped connection), so the caller says what is left instead of hiding the failure."""
    try:
        execute(statement)
    except sa.exc.DBAPIError:
        return False
    return True
