"""asyncpg adapter: ``asyncpg.create_pool`` sized by :class:`PoolSize`.

asyncpg has no pre-ping; a connection the server closed is replaced when asyncpg notices the
closed socket, which it does before lending it in the restart case measured in our tests.
"""

from __future__ import annotations

from typing import Any

from dbtune.db.dsn import APPLICATION_NAME, parse_target
from dbtune.errors import MissingExtra
from dbtune.pool.sizing import PoolSize, pool_size

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - exercised by test_imports
    raise MissingExtra("asyncpg", "asyncpg") from exc


async def create_asyncpg_pool(
    url: str, *, size: PoolSize | None = None, pgbouncer: bool = False, **overrides: Any
) -> Any:
    """An open ``asyncpg.Pool`` (asyncpg pools open on creation)."""
    size = size or pool_size()
    target = parse_target(url).asyncpg_kwargs()
    settings = {"application_name": APPLICATION_NAME, **target.pop("server_settings", {})}
    settings.update(overrides.pop("server_settings", None) or {})
    options: dict[str, Any] = {
        **target,
        "min_size": size.min_size,
        "max_size": size.max_size,
        "server_settings": settings,
    }
    if pgbouncer:
        # Transaction pooling: prepared statements do not survive from one transaction to
        # the next server connection, so cache none.
        options["statement_cache_size"] = 0
    options.update(overrides)
    return await asyncpg.create_pool(**options)
