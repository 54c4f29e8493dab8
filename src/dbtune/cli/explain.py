"""``dbtune explain``: the hot queries under EXPLAIN, their plans checked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dbtune.cli.args import (
    DSN_HELP,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    REPORT_FORMATS,
    WORKLOAD_HELP,
    database,
    emit,
    say,
    shared,
)
from dbtune.commands import explain
from dbtune.commands.stats import StatsFile
from dbtune.config import load_config
from dbtune.db.dsn import redact, resolve_url
from dbtune.workload import load_workload


def run(args: argparse.Namespace) -> int:
    config = load_config()
    resolve_url(args.dsn, config.dsn_env)  # a bad URL fails first
    # A bad file fails before any server starts.
    workload = load_workload(args.workload or config.workload_path())
    stats = StatsFile(args.stats, say) if args.stats else None
    url, embedded = database(args.dsn, "explain")
    options = explain.ExplainOptions(
        url,
        workload,
        analyze=not args.no_analyze,
        mode=explain.CAN_USE if args.can_use else explain.WILL_USE,
        allow_writes=args.allow_writes,
        what_if=args.what_if,
        embedded=embedded,
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
        stats=stats,
    )
    report = explain.run(options)
    emit(args.format, lambda: explain.render_json(report), explain.as_results(report))
    if report.errored:
        failed = [r for r in report.results if r.error is not None]
        first = failed[0]
        print(
            f"dbtune: error: {len(failed)} of {len(report.results)} query profiles could not "
            f"be checked (the report above has each reason); first, "
            f"{first.key}: {redact(first.error or '')}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "explain",
        parents=shared(dsn=DSN_HELP, workload=WORKLOAD_HELP, formats=REPORT_FORMATS),
        help="EXPLAIN the hot queries and check their plans",
        description="Run each hot query under EXPLAIN (ANALYZE, BUFFERS) in a rolled-back "
        "read-only transaction and check its plan. Without --dsn or DATABASE_URL it uses an "
        "embedded PostgreSQL, migrated and seeded. Exit 0 pass, 1 a check failed, 2 an error.",
    )
    parser.add_argument(
        "--no-analyze", action="store_true", help="plan only, without executing the queries"
    )
    parser.add_argument(
        "--can-use",
        action="store_true",
        help="switch off seq scans, bitmap scans and sorts: proves each index can serve its "
        "query on a small database",
    )
    parser.add_argument(
        "--allow-writes",
        action="store_true",
        help="EXPLAIN ANALYZE write queries too (still rolled back)",
    )
    parser.add_argument(
        "--what-if",
        nargs="?",
        const="auto",
        choices=explain.ENGINES,
        help="plan each failing query again as if its suggested index existed: with HypoPG "
        "when installed (no lock), else by building it in a rolled-back transaction (embedded "
        "server, or =build: holds a SHARE lock on the table while it builds)",
    )
    parser.add_argument(
        "--stats", metavar="FILE",
        help="plan with production's statistics (a `dbtune stats export` file, PostgreSQL 18): "
        "imported into the run's rolled-back transaction, table files grown to its page counts",
    )  # fmt: skip
    parser.set_defaults(func=run)
