"""Every pool factory behind one async interface, so each test runs the same steps on each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import dbtune
from dbtune.pool import pool_stats

EXECUTOR = ThreadPoolExecutor(max_workers=64, thread_name_prefix="pool-test")


@dataclass(frozen=True)
class Driver:
    name: str
    open: Callable[..., Awaitable[Any]]
    query: Callable[[Any, int], Awaitable[int]]
    close: Callable[[Any], Awaitable[None]]


def _in_thread(fn: Callable[[], Any]) -> Awaitable[Any]:
    return asyncio.get_running_loop().run_in_executor(EXECUTOR, fn)


async def _psycopg_open(url: str, **options: Any) -> Any:
    pool = dbtune.create_pool(url, **options)
    await _in_thread(pool.open)
    await _in_thread(pool.wait)
    return pool


async def _psycopg_query(pool: Any, i: int) -> int:
    def run() -> int:
        with pool.connection() as conn:
            return int(conn.execute("SELECT %s::int + 0", [i]).fetchone()[0])

    return int(await _in_thread(run))


async def _psycopg_close(pool: Any) -> None:
    await _in_thread(pool.close)


async def _async_psycopg_open(url: str, **options: Any) -> Any:
    pool = dbtune.create_async_pool(url, **options)
    await pool.open()
    await pool.wait()
    return pool


async def _async_psycopg_query(pool: Any, i: int) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT %s::int + 0", [i])
        row = await cur.fetchone()
        return int(row[0])


async def _async_psycopg_close(pool: Any) -> None:
    await pool.close()


async def _asyncpg_open(url: str, **options: Any) -> Any:
    return await dbtune.create_asyncpg_pool(url, **options)


async def _asyncpg_query(pool: Any, i: int) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT $1::int + 0", i))


async def _asyncpg_close(pool: Any) -> None:
    await pool.close()


async def _engine_open(url: str, **options: Any) -> Any:
    return dbtune.create_engine(url, **options)


async def _engine_query(engine: Any, i: int) -> int:
    def run() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT CAST(:i AS int) + 0"), {"i": i}).scalar())

    return int(await _in_thread(run))


async def _engine_close(engine: Any) -> None:
    await _in_thread(engine.dispose)


async def _async_engine_open(url: str, **options: Any) -> Any:
    return dbtune.create_async_engine(url, **options)


async def _async_engine_query(engine: Any, i: int) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT CAST(:i AS int) + 0"), {"i": i})
        return int(result.scalar())


async def _async_engine_close(engine: Any) -> None:
    await engine.dispose()


DRIVERS = [
    Driver("psycopg", _psycopg_open, _psycopg_query, _psycopg_close),
    Driver("psycopg-async", _async_psycopg_open, _async_psycopg_query, _async_psycopg_close),
    Driver("asyncpg", _asyncpg_open, _asyncpg_query, _asyncpg_close),
    Driver("sqlalchemy", _engine_open, _engine_query, _engine_close),
    Driver("sqlalchemy-async", _async_engine_open, _async_engine_query, _async_engine_close),
]


def sizes(handle: Any) -> tuple[int, int]:
    stats = pool_stats(handle)
    return stats.min_size, stats.max_size
