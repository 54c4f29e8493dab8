"""Online index operations for Alembic revisions: the project's and its users' own.

``CREATE INDEX CONCURRENTLY`` cannot run in a transaction, and when it fails or is cancelled it
leaves an INVALID index behind that ``IF NOT EXISTS`` then silently accepts. These helpers run
the build in Alembic's ``autocommit_block()``, rebuild an INVALID leftover, and check the result
is valid, so ``alembic upgrade head`` never reports success over a useless index.

Use them from a revision::

    from dbtune.migrations import create_index_online, drop_index_online

    def upgrade() -> None:
        create_index_online("ix_orders_customer_id_created_at", "orders",
                            ["customer_id", "created_at DESC"], include=["status"])

    def downgrade() -> None:
        drop_index_online("ix_orders_customer_id_created_at", "orders")
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from dbtune.errors import MigrationError

log = logging.getLogger("dbtune.migrations")

_INDEX_STATE = sa.text(
    """
    SELECT i.indisvalid
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())
    """
)


def _column(spec: str) -> str | sa.TextClause:
    """A plain column name stays a name; ``"created_at DESC"`` becomes an ordered expression."""
    return sa.text(spec) if " " in spec.strip() else spec


def _index_valid(name: str, schema: str | None) -> bool | None:
    """True/False for an existing index's ``indisvalid``, None when there is no such index."""
    row = op.get_bind().execute(_INDEX_STATE, {"name": name, "schema": schema}).first()
    return None if row is None else bool(row[0])


def create_index_online(
    index_name: str,
    table_name: str,
    columns: Sequence[str],
    *,
    include: Sequence[str] = (),
    where: str | None = None,
    unique: bool = False,
    schema: str | None = None,
) -> None:
    """Build an index with ``CREATE INDEX CONCURRENTLY``, repairing an INVALID leftover first."""
    context = op.get_context()
    kwargs: dict[str, Any] = {
        "unique": unique,
        "schema": schema,
        "postgresql_concurrently": True,
        "if_not_exists": True,
    }
    if include:
        kwargs["postgresql_include"] = list(include)
    if where:
        kwargs["postgresql_where"] = sa.text(where)
    cols = [_column(c) for c in columns]

    with context.autocommit_block():
        if context.as_sql:
            op.create_index(index_name, table_name, cols, **kwargs)
            return
        state = _index_valid(index_name, schema)
        if state is True:
            log.info("index %s exists and is valid; nothing to build", index_name)
            return
        if state is False:
            log.warning("index %s is INVALID (a failed build); dropping and rebuilding", index_name)
            op.drop_index(
                index_name,
                table_name=table_name,
                schema=schema,
                postgresql_concurrently=True,
                if_exists=True,
            )
        op.create_index(index_name, table_name, cols, **kwargs)
        if _index_valid(index_name, schema) is not True:
            raise MigrationError(
                f"index {index_name} on {table_name} is not valid after CREATE INDEX CONCURRENTLY; "
                f"run `DROP INDEX CONCURRENTLY {index_name};` and `alembic upgrade head` again"
            )


def drop_index_online(index_name: str, table_name: str, *, schema: str | None = None) -> None:
    """Drop an index with ``DROP INDEX CONCURRENTLY IF EXISTS``, so writers are never blocked."""
    with op.get_context().autocommit_block():
        op.drop_index(
            index_name,
            table_name=table_name,
            schema=schema,
            postgresql_concurrently=True,
            if_exists=True,
        )
