"""Writers' worst stall while the covering index builds: CONCURRENTLY vs a plain CREATE INDEX.

Seeds the reference schema at its baseline (no performance indexes), then builds the covering
index several times, the two variants interleaved (online, plain, online, plain, ...), each
beside a writer that inserts one message at a time, and prints the medians side by side.

    python scripts/bench_online_index.py [--dsn URL] [--messages 1000000] [--rounds 3]
        [--out docs/results/online-index.md]

Without --dsn it uses dbtune's embedded PostgreSQL (DBTUNE_HOME, database dbtune_bench_index,
dropped and recreated). The Markdown it writes is generated: edit this script, not the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from dbtune import embedded, migrate
from dbtune.bench.writer import WriterStats, writing
from dbtune.db import connect
from dbtune.seed import seed

INDEX = "ix_conversation_history_user_id_created_at"
DEFINITION = "ON conversation_history (user_id, created_at DESC) INCLUDE (role, message_type)"
DATABASE = "dbtune_bench_index"


def fresh_database(dsn: str | None) -> str:
    if dsn:
        return dsn
    server = embedded.start()
    with connect(server.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    return server.url(DATABASE)


def build_once(url: str, concurrently: bool) -> tuple[float, WriterStats]:
    keyword = "CONCURRENTLY " if concurrently else ""
    with psycopg.connect(url, autocommit=True) as conn:
        with writing(url) as writer:
            started = time.perf_counter()
            conn.execute(f"CREATE INDEX {keyword}{INDEX} {DEFINITION}")
            build_s = time.perf_counter() - started
        conn.execute(f"DROP INDEX CONCURRENTLY {INDEX}")
        conn.execute("VACUUM conversation_history")
    return build_s, writer.stats()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    console = Console()

    url = fresh_database(args.dsn)
    migrate.upgrade(url, migrate.BASELINE)
    with connect(url) as conn:
        version = conn.info.server_version
    console.print(f"seeding {args.messages:,} messages ...")
    seed(url, messages=args.messages, users=args.users, replace=True)

    results: dict[str, list[tuple[float, WriterStats]]] = {"online": [], "plain": []}
    for i in range(args.rounds):
        order = ("online", "plain") if i % 2 == 0 else ("plain", "online")
        for variant in order:
            build_s, stats = build_once(url, concurrently=variant == "online")
            results[variant].append((build_s, stats))
            console.print(
                f"round {i + 1} {variant:<6} build {build_s:6.2f} s  writer worst "
                f"{stats.worst_s * 1000:8.1f} ms  failures {stats.failures}"
            )

    def med(variant: str, pick: str) -> float:
        values = [b if pick == "build" else getattr(s, pick) for b, s in results[variant]]
        return statistics.median(values)

    rows = []
    for variant, label in (("online", "CREATE INDEX CONCURRENTLY"), ("plain", "CREATE INDEX")):
        failures = sum(s.failures for _, s in results[variant])
        rows.append(
            (
                label,
                med(variant, "build"),
                med(variant, "worst_s") * 1000,
                med(variant, "p99_s") * 1000,
                med(variant, "median_s") * 1000,
                failures,
            )
        )
    ratio = med("online", "worst_s") / med("plain", "worst_s")
    slower = med("online", "build") / med("plain", "build")

    table = Table(title="covering index build beside a writer (medians)")
    for column in (
        "build",
        "build s",
        "writer worst ms",
        "writer p99 ms",
        "writer median ms",
        "failed inserts",
    ):
        table.add_column(column)
    for label, build, worst, p99, median, failures in rows:
        table.add_row(
            label, f"{build:.2f}", f"{worst:.1f}", f"{p99:.2f}", f"{median:.2f}", str(failures)
        )
    console.print(table)
    console.print(
        f"online worst stall / plain worst stall = {ratio:.2%}; "
        f"online build / plain build = {slower:.2f}x"
    )

    if args.out:
        command = "python scripts/bench_online_index.py " + " ".join(sys.argv[1:])
        lines = [
            "<!-- generated by scripts/bench_online_index.py: do not edit -->",
            "# Online vs plain build of the covering index",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {psutil.cpu_count()} CPUs, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}; "
            f"PostgreSQL {version // 10000}.{version % 10000}; {args.messages:,} messages; "
            f"{args.rounds} rounds, variants interleaved; medians.",
            "",
            "| build | build s | writer worst ms | writer p99 ms | writer median ms "
            "| failed inserts |",
            "|---|---|---|---|---|---|",
            *(
                f"| `{label}` | {build:.2f} | {worst:.1f} | {p99:.2f} | {median:.2f} | {failures} |"
                for label, build, worst, p99, median, failures in rows
            ),
            "",
            f"The writer's worst stall during the online build is **{ratio:.1%}** of its worst "
            f"stall during the plain build; the online build takes {slower:.2f}x as long.",
            "",
        ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
        console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    if os.geteuid() == 0:
        os.environ.setdefault("DBTUNE_HOME", "/var/tmp/dbtune-bench")
    sys.exit(main())
