"""dbtune: online index migrations, plan checks and CPU-sized pools for PostgreSQL services.

The public API is what ``__all__`` lists; every other module may change.
"""

from dbtune.cpus import CpuCount, usable_cpus
from dbtune.errors import ConnectionFailed, DbtuneError, MigrationError, MissingExtra, UsageError
from dbtune.pool import create_async_pool
from dbtune.sizing import PoolSize, pool_size

__all__ = [
    "ConnectionFailed",
    "CpuCount",
    "DbtuneError",
    "MigrationError",
    "MissingExtra",
    "PoolSize",
    "UsageError",
    "create_async_pool",
    "pool_size",
    "usable_cpus",
]
