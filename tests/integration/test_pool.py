"""The async pool factory against a real server."""

from __future__ import annotations

import asyncio

from dbtune import create_async_pool, pool_size


async def test_async_pool_serves_50_concurrent_queries(seeded_url: str) -> None:
    pool = create_async_pool(seeded_url)
    assert pool.closed  # returned unopened: the caller decides when to connect
    size = pool_size()
    assert (pool.min_size, pool.max_size) == (size.min_size, size.max_size)

    async def one(i: int) -> tuple[int, str]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT %s::int, current_setting('application_name') FROM pg_sleep(0.01)", [i]
            )
            row = await cur.fetchone()
            assert row is not None
            return row[0], row[1]

    async with pool:
        results = await asyncio.gather(*(one(i) for i in range(50)))
        stats = pool.get_stats()
    assert sorted(r[0] for r in results) == list(range(50))
    assert {r[1] for r in results} == {"dbtune"}
    assert stats["requests_num"] >= 50
    assert stats["pool_max"] == size.max_size
