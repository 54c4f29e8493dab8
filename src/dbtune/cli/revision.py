"""``dbtune revision``: the advisor's verified suggestions as Alembic revisions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    EXIT_OK,
)


def run(args: argparse.Namespace) -> int:
    from dbtune.advisor.revision import load_report, write_revisions

    report_path = Path(args.report)
    report = load_report(report_path)
    versions = Path(args.dir)
    command = (
        f"dbtune explain --workload {report.get('workload')} --what-if --format json "
        f"(on {report.get('target')}) > {report_path}; "
        f"dbtune revision --from {report_path} --dir {versions}"
        + (" --unverified" if args.unverified else "")
    )
    written = write_revisions(report, versions, command, unverified=args.unverified)
    if not written:
        print(
            f"no revision written: {report_path} has no suggestion a what-if verified "
            "(run explain with --what-if, or pass --unverified)"
        )
        return EXIT_OK
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    revision = sub.add_parser(
        "revision",
        help="write an Alembic revision per verified index suggestion of an explain report",
        description="Read `dbtune explain --what-if --format json` output and write one "
        "revision per suggestion a what-if verified, using create_index_online / "
        "drop_index_online, chained on the current head of --dir's chain.",
    )
    revision.add_argument("--from", dest="report", required=True, help="explain JSON report")
    revision.add_argument(
        "--dir", default="alembic/versions", help="the chain's versions directory"
    )
    revision.add_argument(
        "--unverified",
        action="store_true",
        help="also write suggestions no what-if ran for (never one a what-if showed failing)",
    )
    revision.set_defaults(func=run)
