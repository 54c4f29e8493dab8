"""Pool factories: each returns the driver's own pool object, sized by :func:`dbtune.pool_size`.

Driver modules are imported inside the factories, so ``import dbtune`` costs nothing for a
service that uses only one driver, and a missing optional driver is a one-line error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool


def create_async_pool(url: str, **overrides: Any) -> AsyncConnectionPool[Any]:
    """A psycopg ``AsyncConnectionPool``, unopened: ``await pool.open()`` or ``async with``."""
    from dbtune.pool.psycopg_pools import create_async_pool as _create

    return _create(url, **overrides)


__all__ = ["create_async_pool"]
