"""One usage shape for every driver's pool, so dashboards and the CLI need no per-driver code
(a pool's figures: not the planner statistics of :mod:`dbtune.stats`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Connections open (``size``), idle, lent out (``in_use``), and requests waiting.

    ``waiting`` is None where the driver does not expose it (asyncpg, SQLAlchemy).
    """

    size: int
    idle: int
    in_use: int
    waiting: int | None
    min_size: int
    max_size: int

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


def pool_stats(pool: Any) -> PoolStats:
    """Stats of a psycopg pool, an asyncpg pool, or a SQLAlchemy (async) engine."""
    if hasattr(pool, "get_stats") and hasattr(pool, "min_size"):  # psycopg_pool
        stats = pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        return PoolStats(
            size, idle, size - idle, stats.get("requests_waiting", 0), pool.min_size, pool.max_size
        )
    if hasattr(pool, "get_idle_size"):  # asyncpg
        size, idle = pool.get_size(), pool.get_idle_size()
        return PoolStats(size, idle, size - idle, None, pool.get_min_size(), pool.get_max_size())
    engine = getattr(pool, "sync_engine", pool)
    queue = getattr(engine, "pool", None)
    if queue is not None and hasattr(queue, "checkedout"):  # SQLAlchemy QueuePool
        in_use, idle = queue.checkedout(), queue.checkedin()
        return PoolStats(
            in_use + idle, idle, in_use, None, queue.size(), queue.size() + queue._max_overflow
        )
    raise TypeError(f"pool_stats() does not know {type(pool).__name__}")
