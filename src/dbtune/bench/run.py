"""``python -m dbtune bench``: before/after evidence, measured side by side in one run.

Every comparison interleaves its variants (rounds of no index / plain / covering; online and
plain builds alternating; pool sizes ascending then descending) so that the machine's noise and
drift hit all of them alike, and the report gives medians and ratios measured together rather
than single absolute times. The report is generated Markdown with the exact command and the
machine, plus PNG plots.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

from dbtune.bench import latency, machine
from dbtune.bench.build import COVERING, COVERING_DEFINITION, build_beside_writer
from dbtune.bench.inserts import insert_rates
from dbtune.bench.naive import NaiveResult, naive_include
from dbtune.bench.plots import latency_plot, pool_plot, scaling_plot
from dbtune.bench.pool_sweep import CLIENTS, DRIVERS, Cells, sweep, verdicts
from dbtune.bench.scaling import ScalePoint, measure_series, users_for
from dbtune.bench.writer import WriterStats
from dbtune.db import connect
from dbtune.pool.sizing import pool_size
from dbtune.sql.index_spec import BTREE_MAX_ENTRY_BYTES

SPEEDUP_TARGET = 1000.0
FLOOR_TARGET = 3.0


@dataclass(frozen=True, slots=True)
class BenchConfig:
    scales: tuple[int, ...]
    """Table sizes of the scaling series, ascending; the largest is what gets seeded."""
    latency_rounds: int
    per_round: int
    slow_per_round: int
    build_rounds: int
    insert_rounds: int
    insert_seconds: float
    pool_seconds: float
    pool_sizes: tuple[int, ...]

    @property
    def messages(self) -> int:
        return self.scales[-1]

    @property
    def users(self) -> int:
        return users_for(self.messages)

    @classmethod
    def for_scales(cls, scales: tuple[int, ...], quick: bool) -> BenchConfig:
        recommended = pool_size().max_size
        if quick:  # a smoke run: each section once, the sweep's ends and the formula
            return cls(scales, 3, 30, 3, 1, 2, 0.5, 0.5, tuple(sorted({1, recommended, 32})))
        sizes = tuple(sorted({1, 2, 4, recommended, 16, 32, 64}))
        return cls(scales, 5, 100, 5, 3, 3, 2.0, 3.0, sizes)


@dataclass
class BenchResults:
    server_version: int = 0
    scaling: list[ScalePoint] = field(default_factory=list)
    listing: dict[str, object] = field(default_factory=dict)
    naive: NaiveResult | None = None
    builds: dict[str, list[tuple[float, WriterStats]]] = field(default_factory=dict)
    inserts: dict[str, float] = field(default_factory=dict)
    pool: Cells = field(default_factory=dict)
    recommended: int = 0

    @property
    def largest(self) -> ScalePoint:
        return self.scaling[-1]

    def speedup(self) -> float:
        return self.largest.speedup()

    def floor_ratio(self) -> float:
        """The worst of the series: the target holds at every size or not at all."""
        return max(point.floor_ratio() for point in self.scaling)


def run_bench(url: str, config: BenchConfig, progress: Callable[[str], None]) -> BenchResults:
    """Every measurement, on a database at head holding the seeded reference data."""
    results = BenchResults()
    with connect(url) as conn:
        results.server_version = conn.info.server_version

    def at_largest() -> None:
        progress("the naive INCLUDE (content, metadata) index")
        results.naive = naive_include(url)
        progress("single-row insert throughput per index variant")
        results.inserts = insert_rates(
            url, rounds=config.insert_rounds, seconds=config.insert_seconds
        )

    rounds = latency.Rounds(config.latency_rounds, config.per_round, config.slow_per_round)
    results.scaling, results.listing = measure_series(
        url, config.scales, rounds, progress, at_largest
    )

    results.recommended = pool_size().max_size
    with connect(url) as conn:
        _, users = latency.traffic_users(conn, 2000)
    progress("pool sweep")
    results.pool = asyncio.run(
        sweep(url, users, list(config.pool_sizes), config.pool_seconds, progress)
    )

    results.builds = {"online": [], "plain": []}
    try:
        for r in range(config.build_rounds):
            for variant in ("online", "plain") if r % 2 == 0 else ("plain", "online"):
                progress(f"covering index build beside a writer: {variant}, round {r + 1}")
                results.builds[variant].append(
                    build_beside_writer(url, concurrently=variant == "online")
                )
    finally:
        with connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} {}").format(
                    sql.Identifier(COVERING), COVERING_DEFINITION
                )
            )
    return results


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def write_report(results: BenchResults, config: BenchConfig, out: Path, command: str) -> Path:
    """Write ``benchmarks.md`` and its plots into ``out``; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    largest = results.largest
    latency_plot(
        {v: (r.heavy.p50_ms, r.heavy.p95_ms, r.heavy.p99_ms) for v, r in largest.variants.items()},
        largest.floor.p50_ms,
        out / "bench-latency.png",
    )
    scaling_plot(results.scaling, out / "bench-scaling.png")
    pool_plot(results.pool, results.recommended, CLIENTS, out / "bench-pool.png")
    lines = [
        "<!-- generated by `python -m dbtune bench`: do not edit -->",
        "# Benchmarks",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine.describe(results.server_version)} on the same machine; "
        f"{config.messages:,} seeded messages, {config.users:,} users; the hot query measured "
        f"at {', '.join(f'{n:,}' for n in config.scales)} rows. Variants are interleaved "
        "in every comparison; figures are medians or percentiles of samples taken side by "
        "side, so read the ratios rather than any single absolute time.",
        "",
        *_scaling_section(results),
        *_latency_section(results),
        *_naive_section(results),
        *_builds_section(results),
        *_inserts_section(results),
        *_pool_section(results),
    ]
    path = out / "benchmarks.md"
    path.write_text("\n".join(lines))
    return path


def _scaling_section(results: BenchResults) -> list[str]:
    lines = [
        "## How the hot query's cost grows with the table",
        "",
        "The heaviest user's latest 20 messages, with content, at each size: the first N "
        "messages of one seed, their senders folded onto N / 100 users as a seed of N would "
        "have them. p50 in ms; every variant and the `SELECT 1` floor measured in the same "
        "interleaved rounds.",
        "",
        "| rows | no index | plain btree | covering index | covering p95 | floor p95 "
        "| no index / covering (p50) | covering p95 / floor p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for point in results.scaling:
        v = point.variants
        lines.append(
            f"| {point.rows:,} | {_ms(v[latency.NO_INDEX].heavy.p50_ms)} "
            f"| {_ms(v[latency.PLAIN].heavy.p50_ms)} | {_ms(v[latency.COVERING].heavy.p50_ms)} "
            f"| {_ms(v[latency.COVERING].heavy.p95_ms)} | {_ms(point.floor.p95_ms)} "
            f"| {point.speedup():,.0f}x | {point.floor_ratio():.1f}x |"
        )
    first, last = results.scaling[0], results.largest
    growth = ""
    if last.rows > first.rows:
        growth = (
            f" From {first.rows:,} to {last.rows:,} rows ({last.rows / first.rows:.0f}x), the "
            f"sequential scan's p50 grew "
            f"{last.variants[latency.NO_INDEX].heavy.p50_ms / first.variants[latency.NO_INDEX].heavy.p50_ms:.1f}x"  # noqa: E501
            f" and the covering index's "
            f"{last.variants[latency.COVERING].heavy.p50_ms / first.variants[latency.COVERING].heavy.p50_ms:.1f}x."  # noqa: E501
        )
    return [
        *lines,
        "",
        f"At {last.rows:,} rows the covering index is **{results.speedup():,.0f}x** faster than "
        f"no index (target: at least {SPEEDUP_TARGET:,.0f}x at the largest size), and its p95 "
        f"stays within **{results.floor_ratio():.1f}x** of the `SELECT 1` round trip at every "
        f"size (target: within {FLOOR_TARGET:.0f}x).{growth}",
        "",
        "![latency against rows](bench-scaling.png)",
        "",
    ]


def _latency_section(results: BenchResults) -> list[str]:
    largest = results.largest
    floor = largest.floor
    no_index = largest.variants[latency.NO_INDEX]
    lines = [
        f"## Hot query at {largest.rows:,} rows: a user's latest 20 messages, with content",
        "",
        "One client, prepared statements, the same connection for the `SELECT 1` floor; the "  # noqa: S608 - prose
        f"heaviest user (user {results.listing.get('heavy_user')}) and users drawn in "
        "proportion to their traffic. Buffers from `EXPLAIN (ANALYZE, BUFFERS)` for the "
        "heaviest user.",
        "",
        "| variant | heavy p50 ms | heavy p95 ms | heavy p99 ms | traffic-weighted p50 ms "
        "| p95 ms | vs no index (p50) | p95 vs floor p95 | buffers | plan |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in largest.variants.items():
        lines.append(
            f"| {name} | {_ms(r.heavy.p50_ms)} | {_ms(r.heavy.p95_ms)} | {_ms(r.heavy.p99_ms)} "
            f"| {_ms(r.weighted.p50_ms)} | {_ms(r.weighted.p95_ms)} "
            f"| {no_index.heavy.p50_ms / r.heavy.p50_ms:,.0f}x "
            f"| {r.heavy.p95_ms / floor.p95_ms:.1f}x | {r.buffers} | {r.plan} |"
        )
    return [
        *lines,
        f"| `SELECT 1` (floor) | {_ms(floor.p50_ms)} | {_ms(floor.p95_ms)} "
        f"| {_ms(floor.p99_ms)} | | | | 1.0x | | |",
        "",
        f"The covering index makes the heaviest user's query **{largest.speedup():,.0f}x** "
        f"faster than no index, and its p95 is **{largest.floor_ratio():.1f}x** the `SELECT 1` "
        "round trip. The message listing without content: "
        f"`{results.listing.get('listing_plan')}`, heap fetches "
        f"{results.listing.get('listing_heap_fetches')}.",
        "",
        "![latency by variant](bench-latency.png)",
        "",
    ]


def _naive_section(results: BenchResults) -> list[str]:
    lines = ["## The naive covering index: `INCLUDE (content, metadata)`", ""]
    naive = results.naive
    if naive is not None and naive.built:
        lines.append(
            f"It could be built ({(naive.size_bytes or 0) / 2**20:.1f} MB); of "
            f"{naive.attempted:,} fresh realistic messages inserted one by one, "
            f"{naive.rejected:,} ({naive.rejected / max(naive.attempted, 1):.2%}) were "
            f"rejected (a btree entry over {BTREE_MAX_ENTRY_BYTES} bytes)."
        )
    elif naive is not None:
        lines.append(f"It **cannot be built** on this data. The first error: `{naive.error}`")
    return [*lines, ""]


def _table(title: str, header: list[str]) -> list[str]:
    """A Markdown section's heading and the head of its table."""
    return [
        f"## {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]


def _builds_section(results: BenchResults) -> list[str]:
    lines = _table(
        "Writers while the covering index builds",
        [
            "build",
            "rounds",
            "build s (median)",
            "writer's worst insert ms (median)",
            "failed inserts",
        ],
    )
    lines[1:1] = [
        "",
        "A writer inserts one message at a time (each its own transaction) during the build.",
    ]
    for variant, label in (("online", "`CREATE INDEX CONCURRENTLY`"), ("plain", "`CREATE INDEX`")):
        runs = results.builds.get(variant, [])
        if runs:
            lines.append(
                f"| {label} | {len(runs)} | {statistics.median(b for b, _ in runs):.2f} "
                f"| {statistics.median(s.worst_s for _, s in runs) * 1000:.1f} "
                f"| {sum(s.failures for _, s in runs)} |"
            )
    return [*lines, ""]


def _inserts_section(results: BenchResults) -> list[str]:
    lines = _table(
        "Single-row inserts per index variant", ["variant", "inserts/s (median)", "vs no index"]
    )
    base = results.inserts.get(latency.NO_INDEX, 0.0) or 1.0
    lines += [
        f"| {name} | {rate:,.0f} | {rate / base:.2f}x |" for name, rate in results.inserts.items()
    ]
    return [*lines, ""]


def _pool_section(results: BenchResults) -> list[str]:
    lines = [
        f"## Pool size sweep ({CLIENTS} clients, hot query)",
        "",
        "| max_size | " + " | ".join(f"{d} q/s | {d} p95 ms" for d in DRIVERS) + " |",
        "|" + "---|" * (1 + 2 * len(DRIVERS)),
    ]
    for size in sorted(next(iter(results.pool.values()))):
        label = f"**{size}** (2 x CPU + 5)" if size == results.recommended else str(size)
        cells = " | ".join(
            f"{results.pool[d][size][0]:.0f} | {results.pool[d][size][1]:.2f}" for d in DRIVERS
        )
        lines.append(f"| {label} | {cells} |")
    return [
        *lines,
        "",
        *(f"- {v}" for v in verdicts(results.pool, results.recommended)),
        "",
        "![pool sweep](bench-pool.png)",
        "",
    ]
