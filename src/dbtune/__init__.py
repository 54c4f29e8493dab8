"""dbtune: online index migrations, plan checks and CPU-sized pools for PostgreSQL services.

The public API is what ``__all__`` lists here, plus two public modules with their own
``__all__``: :mod:`dbtune.migrations` (online schema operations for Alembic revisions) and
:mod:`dbtune.testing` (``assert_plan``). Every other module may change.
"""

from dbtune.errors import ConnectionFailed, DbtuneError, MigrationError, MissingExtra, UsageError
from dbtune.pool import (
    PoolStats,
    create_async_engine,
    create_async_pool,
    create_asyncpg_pool,
    create_engine,
    create_pool,
    pool_stats,
)
from dbtune.pool.cpus import CpuCount, usable_cpus
from dbtune.pool.sizing import PoolSize, engine_kwargs, pool_size

__all__ = [
    "ConnectionFailed",
    "CpuCount",
    "DbtuneError",
    "MigrationError",
    "MissingExtra",
    "PoolSize",
    "PoolStats",
    "UsageError",
    "create_async_engine",
    "create_async_pool",
    "create_asyncpg_pool",
    "create_engine",
    "create_pool",
    "engine_kwargs",
    "pool_size",
    "pool_stats",
    "usable_cpus",
]
