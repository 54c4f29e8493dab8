"""Online schema operations for Alembic revisions: the project's and its users' own (public API).

Use them from a revision::

    from dbtune.migrations import create_index_online, drop_index_online

    def upgrade() -> None:
        create_index_online("ix_orders_customer_id_created_at", "orders",
                            ["customer_id", "created_at DESC"], include=["status"])

    def downgrade() -> None:
        drop_index_online("ix_orders_customer_id_created_at", "orders")

Names (tables, columns, indexes, constraints) are taken exactly as the catalog spells them and
always quoted, so ``"Orders"``, ``"createdAt"`` and names with spaces work as given. Every
operation waits for locks at most ``lock_timeout`` at a time and retries with backoff; when it
gives up, the error names the sessions in the way. Tunables, in order of precedence: the
keyword arguments, ``alembic -x lock_timeout=2s -x lock_retries=3``, the environment
(``DBTUNE_LOCK_TIMEOUT``, ``DBTUNE_LOCK_RETRIES``), defaults (5s, 5 retries).

Layout: :mod:`.tunables` (the budget), :mod:`.lock_retry` (one retry loop), :mod:`.catalog`
(catalog reads by OID/attnum), :mod:`.operation` (the ``Operation`` protocol — ``online(conn,
budget)`` and ``as_sql(budget)`` — and the one runner every helper hands its operation to), the
operations (:mod:`.indexes`, :mod:`.constraints`, :mod:`.foreign_keys`, :mod:`.not_null`,
:mod:`.unique`, :mod:`.columns`, :mod:`.backfill`, :mod:`.ddl` for any other one statement),
:mod:`.rewrite_probe` (does an ALTER rewrite? asked of the server), :mod:`.offline`
(``alembic upgrade --sql``), :mod:`.run_lock` (one Alembic run per database).
"""

from __future__ import annotations

from dbtune.migrations.autogenerate import rewrite_directives
from dbtune.migrations.backfill import backfill
from dbtune.migrations.columns import add_column_online, change_column_type_online
from dbtune.migrations.constraints import add_checks_online, drop_checks_online
from dbtune.migrations.ddl import execute_online
from dbtune.migrations.foreign_keys import add_foreign_key_online
from dbtune.migrations.indexes import create_index_online, drop_index_online
from dbtune.migrations.not_null import set_not_null_online
from dbtune.migrations.unique import add_unique_online
from dbtune.sql.index_spec import IndexKey

__all__ = [
    "IndexKey",
    "add_checks_online",
    "add_column_online",
    "add_foreign_key_online",
    "add_unique_online",
    "backfill",
    "change_column_type_online",
    "create_index_online",
    "drop_checks_online",
    "drop_index_online",
    "execute_online",
    "rewrite_directives",
    "set_not_null_online",
]
