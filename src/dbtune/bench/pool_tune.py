"""``dbtune pool tune``: the pool size measured on the user's own hot queries.

``2 x CPUs + 5`` is a good default and no more: HikariCP's and psycopg's advice both end with
"measure it". This sweeps ``max_size`` with the workload's reads, their pickers' parameters,
through the driver the service uses, and reports throughput and p95 per size over repeated
passes (ascending, then descending, so drift hits every size alike), the knee, and where the
formula lands.

Nothing here changes the database: only reads run, every pooled connection has
``default_transaction_read_only`` on, and pickers run in a read-only transaction. The client
is one Python process; when it used most of a core during a cell, the client rather than the
server limited that cell, and the report says so.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil
import psycopg

import dbtune
from dbtune.db import connect
from dbtune.errors import UsageError
from dbtune.pool.sizing import PoolSize
from dbtune.sql.text import Access, SqlTextError, analyse
from dbtune.workload import HotQuery, QueryProfile, Workload

DRIVERS = ("psycopg", "asyncpg")
KNEE_SHARE = 0.95
"""The knee: the smallest size giving this share of the best median throughput."""
CLIENT_BOUND = 0.9
"""A cell whose client process used this share of one core was limited by the client."""


@dataclass(frozen=True, slots=True)
class Call:
    """One runnable read: a workload query with one profile's parameter values."""

    label: str
    sql: str
    params: dict[str, Any]
    literal_sql: str
    """The same statement with its values inlined (asyncpg has no named parameters)."""


@dataclass(frozen=True, slots=True)
class Mix:
    calls: tuple[Call, ...]
    skipped: tuple[str, ...]
    """Queries not run, each with the reason."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One pass at one size: queries per second, p95 ms, and how busy the client was."""

    qps: float
    p95_ms: float
    client_cpu: float
    """This process's CPU time over wall time: 1.0 is one core, all the time."""
    machine_cpu: float
    """The whole machine's busy share (server included when it runs here)."""
    errors: int = 0
    first_error: str | None = None


@dataclass
class Sweep:
    driver: str
    clients: int
    seconds: float
    recommended: int
    cells: dict[int, list[Cell]] = field(default_factory=dict)

    def median_qps(self, size: int) -> float:
        return statistics.median(c.qps for c in self.cells[size])

    def median_p95(self, size: int) -> float:
        return statistics.median(c.p95_ms for c in self.cells[size])

    def best(self) -> int:
        best = max(self.cells, key=self.median_qps)
        if self.median_qps(best) == 0:
            first = next(
                (c.first_error for v in self.cells.values() for c in v if c.first_error), None
            )
            raise UsageError(f"no call succeeded at any pool size; the first error: {first}")
        return best

    def knee(self) -> int:
        """The smallest size within :data:`KNEE_SHARE` of the best throughput."""
        top = self.median_qps(self.best())
        return min(s for s in self.cells if self.median_qps(s) >= KNEE_SHARE * top)

    def share(self, size: int) -> float:
        return self.median_qps(size) / self.median_qps(self.best())

    def client_bound(self) -> list[int]:
        """Sizes where the client used most of its core in at least one pass."""
        return sorted(
            s for s, cells in self.cells.items() if max(c.client_cpu for c in cells) >= CLIENT_BOUND
        )


def sizes_to_try(recommended: int, clients: int, budget: int | None) -> list[int]:
    """Powers of two up to the clients, and the formula's size, within the server's budget."""
    top = min(clients, budget) if budget is not None else clients
    sizes = {1 << k for k in range(top.bit_length()) if 1 << k <= top}
    sizes |= {top}
    if recommended <= top:
        sizes.add(recommended)
    return sorted(sizes)


def _values(conn: psycopg.Connection[Any], query: HotQuery) -> list[tuple[str, dict[str, Any]]]:
    """Each profile's parameter values, pickers run in the caller's read-only transaction."""
    profiles = query.each_profile()
    return [
        (query.name if len(profiles) == 1 else target.key, _picked(conn, target))
        for target in profiles
    ]


def _picked(conn: psycopg.Connection[Any], target: QueryProfile) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, picker in target.pickers.items():
        if picker.sql is None:
            values[name] = picker.literal
            continue
        row = conn.execute(picker.sql, prepare=True).fetchone()
        if row is None:
            raise UsageError(
                f"{target.query.name}: the picker for {name} returned no row; is the database "
                "seeded?"
            )
        values[name] = row[0]
    return values


def build_mix(url: str, workload: Workload) -> Mix:
    """The workload's reads with their pickers' values; writes and bare ``$n`` are skipped."""
    calls: list[Call] = []
    skipped: list[str] = []
    with connect(url) as conn:
        conn.read_only = True
        for query in workload.queries:
            try:
                access = analyse(query.sql).access
            except SqlTextError as exc:
                skipped.append(f"{query.name}: {exc}")
                continue
            if access is not Access.READ:
                what = "utility statement" if access is Access.OTHER else access.value
                skipped.append(f"{query.name}: a {what}; pool tune runs reads only")
                continue
            if query.generic_only:
                skipped.append(
                    f"{query.name}: $n parameters without pickers (add params pickers to run it)"
                )
                continue
            try:
                profiles = _values(conn, query)
            except psycopg.Error as exc:
                conn.rollback()
                skipped.append(f"{query.name}: a picker failed: {str(exc).strip()}")
                continue
            cursor = psycopg.ClientCursor(conn)
            for label, values in profiles:
                literal = cursor.mogrify(query.sql, values or None)
                calls.append(Call(label, query.sql, values, literal))
        conn.rollback()
    return Mix(tuple(calls), tuple(skipped))


Runner = Callable[[Call], Awaitable[None]]


async def _psycopg_pool(url: str, size: PoolSize) -> tuple[Runner, Callable[[], Awaitable[None]]]:
    async def read_only(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute("SET default_transaction_read_only = on")
        await conn.commit()

    pool = dbtune.create_async_pool(url, size=size, timeout=60, configure=read_only)
    await pool.open()
    await pool.wait()

    async def run(call: Call) -> None:
        async with pool.connection() as conn:
            cur = await conn.execute(call.sql, call.params or None)
            await cur.fetchall()

    return run, pool.close


async def _asyncpg_pool(url: str, size: PoolSize) -> tuple[Runner, Callable[[], Awaitable[None]]]:
    pool = await dbtune.create_asyncpg_pool(
        url, size=size, server_settings={"default_transaction_read_only": "on"}
    )

    async def run(call: Call) -> None:
        async with pool.acquire() as conn:
            await conn.fetch(call.literal_sql)

    return run, pool.close


POOLS = {"psycopg": _psycopg_pool, "asyncpg": _asyncpg_pool}


async def measure_cell(
    url: str, driver: str, max_size: int, mix: Sequence[Call], clients: int, seconds: float
) -> Cell:
    """``clients`` coroutines run the mix through one pool of ``max_size`` for ``seconds``."""
    run, close = await POOLS[driver](url, PoolSize(min(max_size, 2), max_size, 0, "pool tune"))
    latencies: list[float] = []
    errors: list[str] = []
    rng = random.Random(max_size)
    try:
        psutil.cpu_percent()  # starts the machine-wide window
        cpu_started, started = time.process_time(), time.perf_counter()
        deadline = started + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                call = rng.choice(mix)
                began = time.perf_counter()
                try:
                    await run(call)
                except Exception as exc:  # counted: a failing read must not stop the sweep
                    errors.append(f"{call.label}: {str(exc).strip()}")
                    continue
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        machine_cpu = psutil.cpu_percent() / 100
    finally:
        await close()
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] * 1000 if latencies else float("nan")
    return Cell(
        len(latencies) / wall, p95, cpu / wall, machine_cpu, len(errors), next(iter(errors), None)
    )


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """What the sweep tries: the driver, the sizes, the clients, how long and how often."""

    driver: str
    sizes: Sequence[int]
    clients: int
    seconds: float  # per size and pass
    passes: int
    recommended: int  # 2 x CPU + 5, marked in the report


async def sweep(
    url: str, mix: Sequence[Call], plan: SweepPlan, progress: Callable[[str], None] = lambda _: None
) -> Sweep:
    """Every size in every pass, ascending then descending in turn."""
    sizes, passes = plan.sizes, plan.passes
    cells: dict[int, list[Cell]] = {s: [] for s in sizes}
    result = Sweep(plan.driver, plan.clients, plan.seconds, plan.recommended, cells)
    for p in range(passes):
        order = list(sizes) if p % 2 == 0 else list(reversed(sizes))
        for size in order:
            cell = await measure_cell(url, plan.driver, size, mix, plan.clients, plan.seconds)
            result.cells[size].append(cell)
            progress(
                f"pass {p + 1}/{passes} max_size {size:>3}: {cell.qps:8.0f} q/s  "
                f"p95 {cell.p95_ms:7.2f} ms  client CPU {cell.client_cpu:.0%}  "
                f"machine CPU {cell.machine_cpu:.0%}"
            )
    return result


def verdict(result: Sweep) -> list[str]:
    """What the sweep says, in sentences."""
    knee, best, rec = result.knee(), result.best(), result.recommended
    lines = [
        f"Knee: max_size {knee} reaches {result.share(knee):.0%} of the best median "
        f"throughput (max_size {best}, {result.median_qps(best):,.0f} q/s).",
    ]
    if rec in result.cells:
        lines.append(
            f"2 x CPU + 5 = {rec} gives {result.share(rec):.0%} of the best, p95 "
            f"{result.median_p95(rec):.2f} ms against {result.median_p95(knee):.2f} ms at the "
            "knee."
        )
    bound = result.client_bound()
    if bound:
        lines.append(
            f"The client used {CLIENT_BOUND:.0%}+ of its core at max_size "
            f"{', '.join(map(str, bound))}: there this one Python process, not the server, set "
            "the pace. Read those sizes' throughput as a floor; run the tune from another "
            "machine or several processes for the server's own limit."
        )
    failed = [c for cells in result.cells.values() for c in cells if c.errors]
    if failed:
        lines.append(
            f"{sum(c.errors for c in failed):,} calls failed during the sweep and are not "
            f"counted; the first: {failed[0].first_error}"
        )
    return lines


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}" if len(values) > 1 else ""


def rows(result: Sweep) -> list[dict[str, Any]]:
    """One row per size: the figures every format shows."""
    knee = result.knee()
    return [
        {
            "max_size": size,
            "qps": round(result.median_qps(size), 1),
            "qps_passes": [round(c.qps, 1) for c in cells],
            "p95_ms": round(result.median_p95(size), 3),
            "client_cpu": round(max(c.client_cpu for c in cells), 2),
            "machine_cpu": round(max(c.machine_cpu for c in cells), 2),
            "share_of_best": round(result.share(size), 3),
            "knee": size == knee,
            "formula": size == result.recommended,
        }
        for size, cells in sorted(result.cells.items())
    ]


def as_json(result: Sweep, mix: Mix) -> dict[str, Any]:
    return {
        "driver": result.driver,
        "clients": result.clients,
        "seconds_per_cell": result.seconds,
        "passes": len(next(iter(result.cells.values()))),
        "formula_max_size": result.recommended,
        "knee": result.knee(),
        "best": result.best(),
        "client_bound_sizes": result.client_bound(),
        "sizes": rows(result),
        "queries": [c.label for c in mix.calls],
        "skipped": list(mix.skipped),
        "verdict": verdict(result),
    }


def render_markdown(result: Sweep, mix: Mix, *, command: str, machine: str) -> str:
    passes = len(next(iter(result.cells.values())))
    lines = [
        "<!-- generated by `dbtune pool tune`: do not edit -->",
        "# Pool size, measured",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine}. {result.clients} concurrent clients through one {result.driver} "
        f"pool per size, {result.seconds:g} s per size and pass, "
        + (
            f"{passes} passes (ascending, descending in turn); each figure is the median of "
            "the passes, with the passes' range."
            if passes > 1
            else "one pass."
        ),
        "",
        f"Queries ({len(mix.calls)}, drawn at random): "
        + ", ".join(f"`{c.label}`" for c in mix.calls),
        "",
        "| max_size | q/s (median) | q/s range | p95 ms | of best | client CPU | machine CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows(result):
        cells = result.cells[row["max_size"]]
        marks = [m for m, on in (("knee", row["knee"]), ("2 x CPU + 5", row["formula"])) if on]
        label = f"**{row['max_size']}** ({', '.join(marks)})" if marks else str(row["max_size"])
        lines.append(
            f"| {label} | {result.median_qps(row['max_size']):,.0f} "
            f"| {_spread([c.qps for c in cells])} "
            f"| {row['p95_ms']:.2f} | {row['share_of_best']:.0%} | {row['client_cpu']:.0%} "
            f"| {row['machine_cpu']:.0%} |"
        )
    lines += ["", *(f"- {v}" for v in verdict(result))]
    if mix.skipped:
        lines += ["", "Not run:", *(f"- {s}" for s in mix.skipped)]
    return "\n".join([*lines, "", "![pool size sweep](pool-tune.png)", ""])
