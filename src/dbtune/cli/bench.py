"""``dbtune bench``: before/after evidence, side by side, written to a report."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import psutil

from dbtune.cli.args import (
    DSN_HELP_NO_DEMO,
    EXIT_OK,
    shared,
)
from dbtune.commands import bench
from dbtune.config import load_config
from dbtune.db.dsn import redact, resolve_url
from dbtune.errors import UsageError
from dbtune.results import stderr_console

REPORT_FILES = ("benchmarks.md", "bench-scaling.png", "bench-latency.png", "bench-pool.png")


def _bench_series(args: argparse.Namespace) -> tuple[int, ...]:
    """The sizes to measure: --scale, or --messages alone, or what this machine can hold."""
    if args.scale is not None:
        try:
            return bench.parse_series(args.scale)
        except ValueError as exc:
            raise UsageError(f"--scale: {exc}") from None
    if args.messages is not None:
        if args.messages < 1000:
            raise UsageError("--messages: at least 1000 messages")
        return (args.messages,)
    free_disk = shutil.disk_usage(Path.cwd()).free
    return bench.default_series(psutil.virtual_memory().total, free_disk, quick=args.quick)


def run(args: argparse.Namespace) -> int:
    bench.require_matplotlib()
    out = Path(args.out)
    existing = [out / name for name in REPORT_FILES if (out / name).exists()]
    if existing and not args.force:  # checked before minutes of measuring, not after
        raise UsageError(
            f"{', '.join(str(p) for p in existing)} already exist(s): pass --force to replace "
            "them, or --out another folder"
        )
    series = _bench_series(args)
    url = resolve_url(args.dsn, load_config().dsn_env)
    console = stderr_console()
    if url is None:
        url, data_dir = bench.embedded_url()
        console.print(
            f"dbtune: benchmarking on the embedded PostgreSQL in {data_dir}, "
            f"database {bench.BENCH_DATABASE}",
            soft_wrap=True,
        )
    config = bench.prepare(bench.BenchOptions(url, series, args.quick))
    with console.status("benchmarking") as status:
        results = bench.measure(url, config, lambda text: status.update(text))
    command = redact("python -m dbtune bench " + " ".join(args.argv))
    path = bench.write_report(results, config, out, command.strip())
    console.print(
        f"dbtune: wrote {path}: covering index {results.speedup():,.0f}x faster than "
        f"no index; p95 {results.floor_ratio():.1f}x the SELECT 1 floor",
        soft_wrap=True,
    )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "bench",
        parents=shared(dsn=DSN_HELP_NO_DEMO + "; none: the embedded server, database dbtune_bench"),
        help="measure before/after evidence side by side and write benchmarks.md and plots",
        description="Measures hot-query latency without an index, with a plain btree and with "
        "the covering index; the naive INCLUDE (content, metadata) index; writers during an "
        "online and a plain build; insert cost per index; a pool size sweep. Without --dsn it "
        "uses the embedded server (database dbtune_bench, recreated). With --dsn use a scratch "
        "database: bench migrates it, seeds it when empty, and creates bench_* tables.",
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--scale",
        metavar="N,N,...",
        help="table sizes of the scaling series, e.g. 100000,1000000,3000000 (default: "
        "100k, 300k, 1M and 3M rows, as many as half this machine's memory holds; the largest "
        "is seeded)",
    )
    sizes.add_argument(
        "--messages", type=int, default=None, help="one size only: messages to seed and measure"
    )
    parser.add_argument(
        "--quick", action="store_true", help="100k rows, one size, short rounds: about a minute"
    )
    parser.add_argument(
        "--out", default="dbtune-bench",
        help="folder for benchmarks.md and the plots (default ./dbtune-bench; dbtune's own "
        "docs: --out docs --force)",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="replace a report already in --out")
    parser.set_defaults(func=run)
