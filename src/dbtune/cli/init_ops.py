"""``dbtune init-ops``: an ops chain beside an application's own, for dbtune's revisions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    EXIT_OK,
)
from dbtune.commands.revision import DEFAULT_VERSION_TABLE, init_ops


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    init_ops(directory, args.version_table)
    ini = directory / "alembic.ini"
    print(
        f"wrote an ops chain in {directory} (version table {args.version_table}).\n"
        f"  add revisions: dbtune revision --from REPORT.json --dir {directory / 'versions'}\n"
        f"  apply them:    DATABASE_URL=postgresql://... alembic -c {ini} upgrade head"
    )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    ops = sub.add_parser(
        "init-ops",
        help="scaffold an ops Alembic chain beside an application's own",
        description="Write DIR/alembic.ini, env.py, script.py.mako and versions/: an Alembic "
        "chain that keeps its place in its own version table, never in the application's "
        "alembic_version.",
    )
    ops.add_argument("directory", help="a new or empty directory")
    ops.add_argument("--version-table", default=DEFAULT_VERSION_TABLE)
    ops.set_defaults(func=run)
