"""Pool throughput and p95 latency across max_size, psycopg async and asyncpg, side by side.

64 concurrent clients run the hot query (a user's latest 20 messages, users drawn in proportion
to their traffic) through one pool per (driver, max_size) for a fixed time. Sizes run in
ascending and then in descending order so that warm-up and drift hit both ends; each cell is
the median of the two runs.

    python scripts/bench_pool.py [--dsn URL] [--seconds 3] [--out docs/pool-sizing.md]

Without --dsn it uses dbtune's embedded PostgreSQL (database dbtune_bench_pool, seeded once).
Writes a generated Markdown file and a PNG plot next to it (needs the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
from psycopg import sql
from rich.console import Console
from rich.table import Table

import dbtune
from dbtune import embedded, migrate
from dbtune.db import connect
from dbtune.seed import existing_rows, seed
from dbtune.sizing import PoolSize

DATABASE = "dbtune_bench_pool"
CLIENTS = 64
HOT_QUERY = (
    "SELECT id, role, content, message_type, created_at FROM conversation_history "
    "WHERE user_id = {} ORDER BY created_at DESC LIMIT 20"
)


def database(dsn: str | None, messages: int) -> str:
    if dsn:
        url = dsn
    else:
        server = embedded.start()
        with connect(server.url(), autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
            ).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        url = server.url(DATABASE)
    migrate.upgrade(url)
    with connect(url) as conn:
        if existing_rows(conn) == 0:
            seed(url, messages=messages, users=max(100, messages // 100))
    return url


def traffic_weighted_users(url: str) -> list[int]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT user_id FROM conversation_history ORDER BY random() LIMIT 2000"
        ).fetchall()
    return [int(r[0]) for r in rows]


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


def plot(results: dict[str, dict[int, tuple[float, float]]], recommended: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_qps, ax_p95) = plt.subplots(1, 2, figsize=(11, 4))
    for driver, cells in results.items():
        sizes = sorted(cells)
        ax_qps.plot(sizes, [cells[s][0] for s in sizes], marker="o", label=driver)
        ax_p95.plot(sizes, [cells[s][1] for s in sizes], marker="o", label=driver)
    for ax, label in ((ax_qps, "queries/s"), (ax_p95, "p95 latency, ms")):
        ax.set_xscale("log", base=2)
        ax.axvline(recommended, color="grey", linestyle="--", label=f"2 x CPU + 5 = {recommended}")
        ax.set_xlabel("pool max_size")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"{CLIENTS} concurrent clients, hot query; medians of ascending and descending runs"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main_async(args: argparse.Namespace) -> int:
    console = Console()
    url = database(args.dsn, args.messages)
    users = traffic_weighted_users(url)
    cpus = dbtune.usable_cpus()
    recommended = dbtune.pool_size().max_size
    sizes = sorted({1, 2, 4, recommended, 16, 32, 64})
    runs: dict[str, dict[int, list[tuple[float, float]]]] = {
        d: {s: [] for s in sizes} for d in DRIVERS
    }
    for order in (sizes, list(reversed(sizes))):
        for max_size in order:
            for driver in DRIVERS:  # drivers interleaved at every size
                qps, p95 = await measure(url, driver, max_size, args.seconds, users)
                runs[driver][max_size].append((qps, p95))
                console.print(
                    f"{driver:<14} max_size {max_size:>3}: {qps:8.0f} q/s  p95 {p95:7.2f} ms"
                )
    results = {
        d: {
            s: (statistics.median(q for q, _ in r), statistics.median(p for _, p in r))
            for s, r in cells.items()
        }
        for d, cells in runs.items()
    }

    table = Table(title=f"{CLIENTS} clients, hot query: q/s and p95 by max_size (medians)")
    table.add_column("max_size")
    for driver in DRIVERS:
        table.add_column(f"{driver} q/s")
        table.add_column(f"{driver} p95 ms")
    for s in sizes:
        mark = " (2xCPU+5)" if s == recommended else ""
        table.add_row(
            f"{s}{mark}",
            *(v for d in DRIVERS for v in (f"{results[d][s][0]:.0f}", f"{results[d][s][1]:.2f}")),
        )
    console.print(table)
    verdicts = []
    for driver in DRIVERS:
        best_size = max(sizes, key=lambda s: results[driver][s][0])
        share = results[driver][recommended][0] / results[driver][best_size][0]
        verdicts.append(
            f"{driver}: 2 x CPU + 5 = {recommended} gives {share:.1%} of the best "
            f"throughput (max_size {best_size})"
        )
    for line in verdicts:
        console.print(line)

    if args.out:
        png = args.out.with_suffix(".png")
        plot(results, recommended, png)
        with connect(url) as conn:
            version = conn.info.server_version
            rows = existing_rows(conn)
        command = "python scripts/bench_pool.py " + " ".join(sys.argv[1:])
        header = "| max_size | " + " | ".join(f"{d} q/s | {d} p95 ms" for d in DRIVERS) + " |"
        lines = [
            "<!-- generated by scripts/bench_pool.py: do not edit -->",
            "# Pool sizing: measured",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {psutil.cpu_count()} CPUs ({cpus.source}), "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}; "
            f"PostgreSQL {version // 10000}.{version % 10000} on the same machine; "
            f"{rows:,} messages; {CLIENTS} concurrent clients running the hot query for "
            f"{args.seconds:g} s per cell; sizes run ascending then descending, drivers "
            "interleaved; each cell is the median of the two runs.",
            "",
            header,
            "|" + "---|" * (1 + 2 * len(DRIVERS)),
            *(
                "| "
                + (f"**{s}** (2 x CPU + 5)" if s == recommended else str(s))
                + " | "
                + " | ".join(f"{results[d][s][0]:.0f} | {results[d][s][1]:.2f}" for d in DRIVERS)
                + " |"
                for s in sizes
            ),
            "",
            *(f"- {line}" for line in verdicts),
            "",
            f"![q/s and p95 by max_size]({png.name})",
            "",
        ]
        args.out.write_text("\n".join(lines))
        console.print(f"wrote {args.out} and {png}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    if os.geteuid() == 0:
        os.environ.setdefault("DBTUNE_HOME", "/var/tmp/dbtune-bench")
    sys.exit(main())
