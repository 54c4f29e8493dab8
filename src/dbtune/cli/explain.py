"""``dbtune explain``: the hot queries under EXPLAIN, their plans checked."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from dbtune.advisor import advisor
from dbtune.advisor.what_if import ENGINES
from dbtune.cli.args import (
    DSN_HELP,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    database,
    emit,
)
from dbtune.config import load_config
from dbtune.db import connect
from dbtune.db.dsn import redact, resolve_url
from dbtune.explain import report as explain_report
from dbtune.explain.runner import CAN_USE, WILL_USE, run_workload
from dbtune.results import stderr_console
from dbtune.stats import file as stats_file
from dbtune.stats.grow import GROW_LIMIT_MB, Grown, give_back
from dbtune.stats.restore import restore_stats
from dbtune.workload import load_workload

Prepare = Callable[[psycopg.Connection[Any]], None]


class WithStats:
    """Import a statistics file (files grown, figures applied) into the run's transaction,
    which is rolled back: the database plans at production's scale for this run only. The
    file is read at once, so a bad one fails before any server starts; :meth:`give_back`
    shrinks the grown files afterwards."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data = stats_file.read(Path(path))
        self.grown = Grown()

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        path = self.path
        done = restore_stats(conn, self.data, keep_autovacuum=True,
                             grow_limit_bytes=GROW_LIMIT_MB << 20)  # fmt: skip
        self.grown = done.grown
        console = stderr_console()
        for why in (*done.skipped, *done.grown.skipped):
            console.print(f"dbtune: --stats: {why}", soft_wrap=True)
        console.print(
            f"dbtune: planning with the statistics of {path}: {done.tables} tables, "
            f"{done.columns} columns, {done.grown.count()} grown to "
            "production's page counts (in this run's transaction, rolled back at the end; the "
            "files are vacuumed back to their rows' size after it)",
            soft_wrap=True,
        )

    def give_back(self, url: str) -> None:
        if not self.grown.names:
            return
        with connect(url, autocommit=True) as conn:
            failed = give_back(conn, self.grown)
        for why in failed:
            stderr_console().print(f"dbtune: --stats: could not vacuum {why}", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    config = load_config()
    resolve_url(args.dsn, config.dsn_env)  # a bad URL fails first
    # A bad file fails before any server starts.
    workload = load_workload(args.workload or config.workload_path())
    prepare = WithStats(args.stats) if args.stats else None
    url, embedded = database(args.dsn, "explain")
    report = run_workload(
        url,
        workload,
        analyze=not args.no_analyze,
        mode=CAN_USE if args.can_use else WILL_USE,
        allow_writes=args.allow_writes,
        advise=advisor(args.what_if, embedded=embedded),
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
        prepare=prepare,
    )
    if prepare is not None:
        prepare.give_back(url)
    emit(
        args.format,
        lambda: explain_report.render_json(report),
        explain_report.as_results(report),
    )
    if report.errored:
        failed = [r for r in report.results if r.error is not None]
        first = failed[0]
        print(
            f"dbtune: error: {len(failed)} of {len(report.results)} query profiles could not "
            f"be checked (the report above has each reason); first, "
            f"{first.query.name}[{first.profile}]: {redact(first.error or '')}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def add_arguments(sub: Any) -> None:
    explain = sub.add_parser(
        "explain",
        help="EXPLAIN the hot queries and check their plans",
        description="Run each hot query under EXPLAIN (ANALYZE, BUFFERS) in a rolled-back "
        "read-only transaction and check its plan. Without --dsn or DATABASE_URL it uses an "
        "embedded PostgreSQL, migrated and seeded. Exit 0 pass, 1 a check failed, 2 an error.",
    )
    explain.add_argument("--dsn", help=DSN_HELP)
    explain.add_argument("--workload", help="workload TOML file (default: the shipped one)")
    explain.add_argument(
        "--format", choices=("table", "json", "markdown", "junit"), default="table"
    )
    explain.add_argument(
        "--no-analyze", action="store_true", help="plan only, without executing the queries"
    )
    explain.add_argument(
        "--can-use",
        action="store_true",
        help="switch off seq scans, bitmap scans and sorts: proves each index can serve its "
        "query on a small database",
    )
    explain.add_argument(
        "--allow-writes",
        action="store_true",
        help="EXPLAIN ANALYZE write queries too (still rolled back)",
    )
    explain.add_argument(
        "--what-if",
        nargs="?",
        const="auto",
        choices=ENGINES,
        help="plan each failing query again as if its suggested index existed: with HypoPG "
        "when installed (no lock), else by building it in a rolled-back transaction (embedded "
        "server, or =build: holds a SHARE lock on the table while it builds)",
    )
    explain.add_argument(
        "--stats", metavar="FILE",
        help="plan with production's statistics (a `dbtune stats export` file, PostgreSQL 18): "
        "imported into the run's rolled-back transaction, table files grown to its page counts",
    )  # fmt: skip
    explain.set_defaults(func=run)
