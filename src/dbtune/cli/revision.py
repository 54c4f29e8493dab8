"""``dbtune revision``: the advisor's verified suggestions as Alembic revisions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    EXIT_OK,
)
from dbtune.commands import revision


def run(args: argparse.Namespace) -> int:
    report_path = Path(args.report)
    written = revision.from_report(report_path, Path(args.dir), unverified=args.unverified)
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
    parser = sub.add_parser(
        "revision",
        help="write an Alembic revision per verified index suggestion of an explain report",
        description="Read `dbtune explain --what-if --format json` output and write one "
        "revision per suggestion a what-if verified, using create_index_online / "
        "drop_index_online, chained on the current head of --dir's chain.",
    )
    parser.add_argument("--from", dest="report", required=True, help="explain JSON report")
    parser.add_argument("--dir", default="alembic/versions", help="the chain's versions directory")
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="also write suggestions no what-if ran for (never one a what-if showed failing)",
    )
    parser.set_defaults(func=run)
