"""Pool throughput and p95 across max_size, psycopg async and asyncpg, interleaved.

64 concurrent clients run the hot query (a user's latest 20 messages, users drawn in proportion
to their traffic) through one pool per (driver, max_size) for a fixed time. Sizes run in
ascending and then descending order, drivers interleaved at every size; each cell is the median
of the two passes.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import dbtune
from dbtune.pool.sizing import PoolSize

CLIENTS = 64
HOT_QUERY = (
    "SELECT id, role, content, message_type, created_at FROM conversation_history "
    "WHERE user_id = {} ORDER BY created_at DESC LIMIT 20"
)

Runner = Callable[[Any, int], Awaitable[None]]


async def _psycopg(url: str, size: PoolSize) -> tuple[Any, Runner]:
    pool = dbtune.create_async_pool(url, size=size, timeout=60)
    await pool.open()
    await pool.wait()

    async def run(handle: Any, user_id: int) -> None:
        async with handle.connection() as conn:
            cur = await conn.execute(HOT_QUERY.format("%s"), [user_id])
            await cur.fetchall()

    return pool, run


async def _asyncpg(url: str, size: PoolSize) -> tuple[Any, Runner]:
    pool = await dbtune.create_asyncpg_pool(url, size=size)

    async def run(handle: Any, user_id: int) -> None:
        async with handle.acquire() as conn:
            await conn.fetch(HOT_QUERY.format("$1"), user_id)

    return pool, run


DRIVERS = {"psycopg async": _psycopg, "asyncpg": _asyncpg}


async def measure(
    url: str, driver: str, max_size: int, seconds: float, users: list[int]
) -> tuple[float, float]:
    size = PoolSize(min(max_size, 2), max_size, 0, "bench")
    handle, run = await DRIVERS[driver](url, size)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(max_size)

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await run(handle, rng.choice(users))
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    await handle.close()
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    return len(latencies) / seconds, p95 * 1000


Cells = dict[str, dict[int, tuple[float, float]]]


async def sweep(
    url: str,
    users: list[int],
    sizes: list[int],
    seconds: float,
    progress: Callable[[str], None] = lambda _: None,
) -> Cells:
    """{driver: {max_size: (queries/s, p95 ms)}}, medians of an ascending and a descending pass."""
    runs: dict[str, dict[int, list[tuple[float, float]]]] = {
        d: {s: [] for s in sizes} for d in DRIVERS
    }
    for order in (sizes, list(reversed(sizes))):
        for max_size in order:
            for driver in DRIVERS:
                qps, p95 = await measure(url, driver, max_size, seconds, users)
                runs[driver][max_size].append((qps, p95))
                progress(f"{driver:<14} max_size {max_size:>3}: {qps:8.0f} q/s  p95 {p95:7.2f} ms")
    return {
        d: {
            s: (statistics.median(q for q, _ in r), statistics.median(p for _, p in r))
            for s, r in cells.items()
        }
        for d, cells in runs.items()
    }


def verdicts(cells: Cells, recommended: int) -> list[str]:
    lines = []
    for driver, by_size in cells.items():
        best = max(by_size, key=lambda s: by_size[s][0])
        share = by_size[recommended][0] / by_size[best][0]
        lines.append(
            f"{driver}: 2 x CPU + 5 = {recommended} gives {share:.1%} of the best "
            f"throughput (max_size {best})"
        )
    return lines
