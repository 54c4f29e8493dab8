"""Pool factories: each returns the driver's own pool object, sized by :func:`dbtune.pool_size`.

Driver modules are imported inside the factories, so ``import dbtune`` costs nothing for a
service that uses one driver, and a missing optional driver is a one-line error naming the
extra. Every factory takes a URL, ``size=`` (a :class:`PoolSize`, default ``pool_size()``),
``pgbouncer=True`` for a transaction-mode PgBouncer in front, and keyword overrides that are
passed to the driver as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbtune.pool.usage import PoolStats, pool_stats

if TYPE_CHECKING:
    import sqlalchemy as sa
    from psycopg_pool import AsyncConnectionPool, ConnectionPool
    from sqlalchemy.ext.asyncio import AsyncEngine


def create_pool(url: str, **options: Any) -> ConnectionPool[Any]:
    """A psycopg ``ConnectionPool``, unopened: ``pool.open()`` or ``with pool:``."""
    from dbtune.pool.psycopg_pools import create_pool as create

    return create(url, **options)


def create_async_pool(url: str, **options: Any) -> AsyncConnectionPool[Any]:
    """A psycopg ``AsyncConnectionPool``, unopened: ``await pool.open()`` or ``async with``."""
    from dbtune.pool.psycopg_pools import create_async_pool as create

    return create(url, **options)


async def create_asyncpg_pool(url: str, **options: Any) -> Any:
    """An ``asyncpg.Pool`` (needs the ``asyncpg`` extra); asyncpg pools open on creation."""
    from dbtune.pool.asyncpg_pool import create_asyncpg_pool as create

    return await create(url, **options)


def create_engine(url: str, **options: Any) -> sa.Engine:
    """A SQLAlchemy engine on psycopg with a sized QueuePool and pre-ping."""
    from dbtune.pool.sqlalchemy_engines import create_engine as create

    return create(url, **options)


def create_async_engine(url: str, **options: Any) -> AsyncEngine:
    """A SQLAlchemy async engine on asyncpg (needs the ``asyncpg`` extra)."""
    from dbtune.errors import MissingExtra

    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise MissingExtra("asyncpg", "asyncpg") from None
    from dbtune.pool.sqlalchemy_engines import create_async_engine as create

    return create(url, **options)


__all__ = [
    "PoolStats",
    "create_async_engine",
    "create_async_pool",
    "create_asyncpg_pool",
    "create_engine",
    "create_pool",
    "pool_stats",
]
