"""psycopg_pool adapters: a URL and a :class:`PoolSize` in, a configured pool out.

Both pools check a connection before lending it, so a connection killed by a server restart or
a network cut is never handed to the application. After a restart every idle connection is
stale; the first failed check sweeps the whole pool (``pool.check()``) so the next request gets
a fresh connection at once instead of testing stale ones one by one, or waiting for the pool's
reconnection backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from dbtune.db.dsn import APPLICATION_NAME, libpq_url
from dbtune.pool.sizing import PoolSize, pool_size

log = logging.getLogger("dbtune.pool")


def _settings(
    size: PoolSize | None, pgbouncer: bool, overrides: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    size = size or pool_size()
    kwargs: dict[str, Any] = {"application_name": APPLICATION_NAME}
    if pgbouncer:
        # Transaction pooling hands each transaction to any server connection: a statement
        # prepared on one is unknown on the next. Never prepare.
        kwargs["prepare_threshold"] = None
    kwargs.update(overrides.pop("kwargs", None) or {})
    options: dict[str, Any] = {
        "min_size": size.min_size,
        "max_size": size.max_size,
        "open": False,
        "name": APPLICATION_NAME,
    }
    options.update(overrides)
    return kwargs, options


def create_pool(
    url: str, *, size: PoolSize | None = None, pgbouncer: bool = False, **overrides: Any
) -> ConnectionPool[Any]:
    """An unopened ``ConnectionPool``: ``pool.open()`` or ``with pool:``."""
    kwargs, options = _settings(size, pgbouncer, overrides)
    holder: list[weakref.ref[ConnectionPool[Any]]] = []
    sweeping = threading.Lock()

    def check(conn: psycopg.Connection[Any]) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            pool = holder[0]() if holder else None
            if pool is not None and sweeping.acquire(blocking=False):
                log.warning("pool %s: a connection failed its check; sweeping the pool", pool.name)
                threading.Thread(target=_sweep, args=(pool, sweeping), daemon=True).start()
            raise

    options.setdefault("check", check)
    pool: ConnectionPool[Any] = ConnectionPool(libpq_url(url), kwargs=kwargs, **options)
    holder.append(weakref.ref(pool))
    return pool


def _sweep(pool: ConnectionPool[Any], lock: threading.Lock) -> None:
    try:
        pool.check()
    except Exception:  # the pool may be closing; the next failed check sweeps again
        log.debug("pool sweep failed", exc_info=True)
    finally:
        lock.release()


def create_async_pool(
    url: str, *, size: PoolSize | None = None, pgbouncer: bool = False, **overrides: Any
) -> AsyncConnectionPool[Any]:
    """An unopened ``AsyncConnectionPool``: ``await pool.open()`` or ``async with pool:``."""
    kwargs, options = _settings(size, pgbouncer, overrides)
    holder: list[weakref.ref[AsyncConnectionPool[Any]]] = []
    sweeping: set[asyncio.Task[None]] = set()

    async def check(conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            pool = holder[0]() if holder else None
            if pool is not None and not sweeping:
                log.warning("pool %s: a connection failed its check; sweeping the pool", pool.name)
                task = asyncio.create_task(_async_sweep(pool))
                sweeping.add(task)
                task.add_done_callback(sweeping.discard)
            raise

    options.setdefault("check", check)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(libpq_url(url), kwargs=kwargs, **options)
    holder.append(weakref.ref(pool))
    return pool


async def _async_sweep(pool: AsyncConnectionPool[Any]) -> None:
    try:
        await pool.check()
    except Exception:
        log.debug("pool sweep failed", exc_info=True)
