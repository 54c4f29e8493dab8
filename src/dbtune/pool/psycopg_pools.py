"""psycopg_pool adapter: translate a :class:`PoolSize` and a URL into a configured pool."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from dbtune.dsn import APPLICATION_NAME, libpq_url
from dbtune.sizing import pool_size


def create_async_pool(url: str, **overrides: Any) -> AsyncConnectionPool[Any]:
    """An unopened ``AsyncConnectionPool`` that checks each connection before lending it."""
    size = pool_size()
    kwargs: dict[str, Any] = {"application_name": APPLICATION_NAME}
    kwargs.update(overrides.pop("kwargs", None) or {})
    options: dict[str, Any] = {
        "min_size": size.min_size,
        "max_size": size.max_size,
        "open": False,
        "check": AsyncConnectionPool.check_connection,
        "name": APPLICATION_NAME,
    }
    options.update(overrides)
    return AsyncConnectionPool(libpq_url(url), kwargs=kwargs, **options)
