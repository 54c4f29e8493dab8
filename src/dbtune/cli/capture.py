"""``dbtune workload capture``: a workload from pg_stat_statements, with baselines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    DSN_HELP,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    database,
    positive_int,
    shared,
)
from dbtune.commands import capture
from dbtune.config import load_config
from dbtune.db.dsn import describe, redact
from dbtune.workload import load_workload


def run(args: argparse.Namespace) -> int:
    config = load_config()
    url, _ = database(args.dsn, "workload capture", stat_statements=True)
    out = Path(args.out) if args.out else None
    existing = load_workload(out) if args.update and out is not None and out.exists() else None
    options = capture.CaptureOptions(
        url,
        top=args.top,
        min_calls=args.min_calls,
        pickers=not args.no_pickers,
        existing=existing,
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
    )
    captured = capture.run(options)
    if not captured.statements:
        print(
            f"dbtune: nothing to capture on {describe(url)}: pg_stat_statements has no query "
            f"of this database's tables with at least {args.min_calls} calls yet; let the "
            "application run (or run dbtune bench), then capture again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for name, error in captured.unplanned:
        print(f"dbtune: {name}: no baseline: {redact(error)}", file=sys.stderr)
    header = (
        f"Captured by dbtune from pg_stat_statements on {describe(url)}: the top {args.top} "
        f"statements by total time with at least {args.min_calls} calls.\n"
        "Expectations are the baseline (captured.baseline); hand-written keys survive "
        "`dbtune workload capture --update`."
    )
    text = capture.render(captured.queries, header)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        print(
            f"wrote {len(captured.queries)} queries ({len(captured.statements)} statements "
            f"captured) to {out}",
            file=sys.stderr,
        )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    workload_cmd = sub.add_parser("workload", help="workload files: capture one")
    workload_sub = workload_cmd.add_subparsers(
        dest="workload_command", required=True, parser_class=Parser
    )
    capture = workload_sub.add_parser(
        "capture",
        parents=shared(dsn=DSN_HELP),
        help="write a workload from pg_stat_statements, with baseline expectations",
        description="Read pg_stat_statements, take the top statements by total execution "
        "time (skipping utility, catalog and dbtune's own statements), and write a workload: "
        "each query checked as its generic plan, with the plan's current shape as its "
        "expectations. Without --dsn or DATABASE_URL it uses the embedded server.",
    )
    capture.add_argument("--top", type=positive_int, default=20)
    capture.add_argument("--min-calls", type=positive_int, default=1)
    capture.add_argument("--out", help="workload file to write (default: standard output)")
    capture.add_argument(
        "--update",
        action="store_true",
        help="refresh the baselines of an existing --out file, keeping hand-written keys",
    )
    capture.add_argument(
        "--no-pickers", action="store_true", help="no custom-plan twins with picked values"
    )
    capture.set_defaults(func=run)
