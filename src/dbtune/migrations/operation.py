"""One online operation, run the one way: Alembic's op objects for what dbtune adds.

An :class:`Operation` says what it does online, on the revision's connection, and what SQL it
writes for ``alembic upgrade --sql``; :func:`run_operation` runs either in Alembic's
``autocommit_block()`` (each step of an online operation commits on its own) with the lock
budget of the helper's arguments, ``-x`` options and the environment. The helpers of this
package build an operation from their arguments and hand it here; :func:`session_settings` and
:func:`require_table` are what their online steps share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import sqlalchemy as sa
from alembic import op

from dbtune.errors import MigrationError
from dbtune.migrations.catalog import ResolvedTable, resolve_table
from dbtune.migrations.tunables import Tunables, tunables
from dbtune.sql.identifiers import ident


class Operation(Protocol):
    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        """Do it on the revision's connection (autocommit: each statement commits)."""

    def as_sql(self, budget: Tunables) -> None:
        """Write the statements a DBA runs with psql (``op.execute`` in ``--sql`` mode)."""


def run_operation(
    operation: Operation, *, lock_timeout: str | None = None, lock_retries: int | None = None
) -> None:
    """Run ``operation`` in Alembic's ``autocommit_block()``: online on the revision's
    connection, or as SQL for ``alembic upgrade --sql``."""
    context = op.get_context()
    budget = tunables(context, lock_timeout, lock_retries)
    with context.autocommit_block():
        if context.as_sql:
            operation.as_sql(budget)
        else:
            operation.online(op.get_bind(), budget)


@contextmanager
def session_settings(conn: sa.Connection, lock_timeout: str) -> Iterator[None]:
    """Short lock_timeout, no statement_timeout, for the operation only; then the session's own."""
    saved = conn.execute(
        sa.text("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
    ).one()
    apply = sa.text(
        "SELECT set_config('lock_timeout', :l, false), set_config('statement_timeout', :s, false)"
    )
    conn.execute(apply, {"l": lock_timeout, "s": "0"})
    try:
        yield
    finally:
        conn.execute(apply, {"l": saved[0], "s": saved[1]})


def require_table(conn: sa.Connection, table: str, schema: str | None) -> ResolvedTable:
    found = resolve_table(conn, table, schema)
    if found is None:
        where = f"schema {schema}" if schema else "the search_path"
        shown = ident(*([schema] if schema else []), table).as_string()
        raise MigrationError(
            f"table {shown} does not exist in {where}; names are matched exactly "
            "(case-sensitive): pass schema= or the name as the catalog spells it"
        )
    return found
