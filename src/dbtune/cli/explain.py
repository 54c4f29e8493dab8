"""``dbtune explain``: the hot queries under EXPLAIN, their plans checked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dbtune.advisor import advisor
from dbtune.advisor.what_if import ENGINES
from dbtune.cli.args import (
    DSN_HELP,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    emit,
)
from dbtune.config import load_config
from dbtune.demo import embedded_demo_url
from dbtune.dsn import redact, resolve_url
from dbtune.explain import report as explain_report
from dbtune.explain.runner import CAN_USE, WILL_USE, run_workload
from dbtune.workload import load_workload


def run(args: argparse.Namespace) -> int:
    config = load_config()
    url = resolve_url(args.dsn, config.dsn_env)
    # A bad file fails before any server starts.
    workload = load_workload(args.workload or config.workload_path())
    embedded = url is None
    if url is None:
        url = embedded_demo_url()
    report = run_workload(
        url,
        workload,
        analyze=not args.no_analyze,
        mode=CAN_USE if args.can_use else WILL_USE,
        allow_writes=args.allow_writes,
        advise=advisor(args.what_if, embedded=embedded),
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
    )
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
    explain.add_argument("--dsn", help=DSN_HELP + "; none: the embedded demo server")
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
    explain.set_defaults(func=run)
