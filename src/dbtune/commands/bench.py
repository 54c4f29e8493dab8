"""``dbtune bench``: the evidence, measured side by side on the reference schema, written as
``benchmarks.md`` and its plots.

>>> results, config = run(BenchOptions(url, series=(100_000,), quick=True))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dbtune.bench.plots import require_matplotlib
from dbtune.bench.run import BenchConfig, BenchResults, run_bench, write_report
from dbtune.bench.scaling import default_series, parse_series, within
from dbtune.reference import embedded
from dbtune.reference import schema as reference_schema
from dbtune.reference.demo import seed_with_progress

__all__ = [
    "BENCH_DATABASE",
    "BenchOptions",
    "default_series",
    "embedded_url",
    "measure",
    "parse_series",
    "prepare",
    "require_matplotlib",
    "run",
    "write_report",
]  # fmt: skip

BENCH_DATABASE = "dbtune_bench"


@dataclass(frozen=True, slots=True)
class BenchOptions:
    url: str
    series: tuple[int, ...]  # table sizes of the scaling series; the largest is seeded
    quick: bool = False


def embedded_url() -> tuple[str, Path]:
    """A fresh bench database on the embedded server, and the server's data folder."""
    server = embedded.start()
    return embedded.ensure_database(server, BENCH_DATABASE, fresh=True), server.data_dir


def prepare(options: BenchOptions) -> BenchConfig:
    """Migrate and seed the database (a progress bar on stderr); a database holding fewer
    rows than asked measures the sizes it holds."""
    config = BenchConfig.for_scales(options.series, options.quick)
    present, _ = reference_schema.prepare(
        options.url, messages=config.messages, users=config.users, seeder=seed_with_progress
    )
    if present != config.messages:
        config = BenchConfig.for_scales(within(config.scales, present), options.quick)
    return config


def run(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> tuple[BenchResults, BenchConfig]:
    """The database prepared, then every series measured."""
    config = prepare(options)
    return run_bench(options.url, config, progress), config


measure = run_bench
