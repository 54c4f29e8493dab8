"""UNIQUE constraints added without a table scan under ACCESS EXCLUSIVE.

``ADD CONSTRAINT ... UNIQUE (cols)`` builds its index while holding ACCESS EXCLUSIVE: nothing
reads or writes the table until the build ends. Built first with ``CREATE UNIQUE INDEX
CONCURRENTLY`` (by :func:`~dbtune.migrations.create_index_online`, with its INVALID repair), the
index then becomes the constraint with ``ADD CONSTRAINT ... UNIQUE USING INDEX``, a catalog
change. A duplicate in the data fails the build: the error shows the duplicated key, and the
failed build's INVALID index is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.catalog import ResolvedTable, columns, constraint
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.indexes import CreateIndex, build_index
from dbtune.migrations.lock_retry import retry_alter
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.tunables import Tunables
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import IndexSpec, check_identifiers


@shown_by_alembic
def add_unique_online(
    name: str,
    table_name: str,
    cols: Sequence[str],
    *,
    schema: str | None = None,
    allow_wide: bool = False,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """``UNIQUE (cols)`` as a constraint named ``name``, backed by an index of the same name."""
    check_identifiers(name, table_name, *cols, schema)
    spec = IndexSpec.build(name, table_name, list(cols), unique=True)
    run_operation(
        _AddUnique(spec, table_name, schema, allow_wide),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _AddUnique(CreateIndex):
    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        table = require_table(conn, self.table_name, self.schema)
        _add(conn, self.spec, table, budget, self.allow_wide)

    def as_sql(self, budget: Tunables) -> None:
        offline.add_unique(self.spec, self.schema, budget.lock_timeout)


def _add(
    conn: sa.Connection, spec: IndexSpec, table: ResolvedTable, budget: Tunables, allow_wide: bool
) -> None:
    existing = constraint(conn, table, spec.name)
    if existing is not None:
        known = columns(conn, table)
        wanted = tuple(known[c].attnum for c, _ in spec.columns if c in known)
        if existing.kind in "up" and existing.columns == wanted:
            return
        raise MigrationError(
            f"{table.display} already has a constraint {spec.name} with another definition; "
            "drop it or give the unique constraint another name"
        )
    build_index(conn, spec, table, budget, allow_wide)
    with session_settings(conn, budget.lock_timeout):
        retry_alter(
            conn,
            f"add unique constraint {spec.name} to {table.display}",
            (table.oid,),
            budget,
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
                table.identifier, ident(spec.name), ident(spec.name)
            ),
        )
