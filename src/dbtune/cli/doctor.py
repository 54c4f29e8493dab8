"""``dbtune doctor``: index and pool health of a live database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    DSN_HELP,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    REPORT_FORMATS,
    database,
    emit,
    positive_int,
    shared,
    size_mb,
    without_dsns,
)
from dbtune.config import load_config
from dbtune.db.dsn import resolve_url
from dbtune.errors import UsageError
from dbtune.results import stderr_console
from dbtune.workload import load_workload


def run(args: argparse.Namespace) -> int:
    from dbtune.commands import doctor  # its tools load when the command runs

    config = load_config()
    selection = doctor.Selection.build(args.schema or (), args.table or (), config.ignore)
    resolve_url(args.dsn, config.dsn_env)  # a bad URL fails first
    if args.instances < 1:
        raise UsageError(f"--instances must be at least 1, got {args.instances}")
    if args.pool_max is not None and (args.pool_size is not None or args.max_overflow is not None):
        raise UsageError("give --pool-max, or SQLAlchemy's --pool-size/--max-overflow, not both")
    workload = args.workload or config.workload_path()
    hot = tuple((q.name, q.sql) for q in load_workload(workload).queries) if workload else ()
    options = doctor.DoctorOptions(
        instances=args.instances,
        hot_queries=hot,
        pool_max=args.pool_max,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        replicas=tuple(args.replica or ()),
        unused_min_bytes=int(args.unused_min_mb * 2**20),
        show_all=args.all,
        selection=selection,
    )
    if args.write_revision:
        doctor.check_versions(Path(args.write_revision))  # before the server is read
    url, _ = database(args.dsn, "doctor")
    report = doctor.run(url, options)
    emit(args.format, lambda: doctor.render_json(report), doctor.as_results(report))
    if args.write_revision:
        command = "dbtune doctor " + " ".join(without_dsns(args.argv))
        path = doctor.write_revision(report, Path(args.write_revision), command.strip())
        stderr_console().print(
            f"dbtune: wrote {path}" if path else "dbtune: no schema fix to write as a revision",
            soft_wrap=True,
        )
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        parents=shared(
            dsn=DSN_HELP,
            workload="the hot queries (default: [tool.dbtune] workload): an unindexed foreign "
            "key they filter on gets the index they need",
            formats=REPORT_FORMATS,
        ),
        help="inspect a live database: invalid, redundant, unused and wide indexes, "
        "unindexed foreign keys, visibility, connection budget",
    )
    parser.add_argument(
        "--instances",
        type=positive_int,
        default=1,
        help="processes of the service sharing the server (default 1)",
    )
    parser.add_argument(
        "--unused-min-mb",
        type=size_mb,
        default=10.0,
        help="report unused indexes from this size up (default 10 MB)",
    )
    _pool_arguments(parser)
    _scope_arguments(parser)
    parser.set_defaults(func=run)


def _pool_arguments(parser: Any) -> None:
    """The application's declared pool, checked against the connection budget."""
    parser.add_argument(
        "--pool-max", type=positive_int, metavar="N",
        help="the application's pool maximum per instance (psycopg_pool/asyncpg max_size)",
    )  # fmt: skip
    parser.add_argument(
        "--pool-size", type=positive_int, metavar="N",
        help="SQLAlchemy's pool_size per instance (default 5 when --max-overflow is given)",
    )  # fmt: skip
    parser.add_argument(
        "--max-overflow", type=int, metavar="N",
        help="SQLAlchemy's max_overflow per instance (default 10 when --pool-size is given)",
    )  # fmt: skip
    parser.add_argument(
        "--replica", action="append", metavar="DSN",
        help="a streaming replica of the database (repeatable): an index it scans is not "
        "unused",
    )  # fmt: skip


def _scope_arguments(parser: Any) -> None:
    """What is judged and listed, and where the fixes go."""
    parser.add_argument(
        "--write-revision", metavar="DIR",
        help="write the listed schema fixes as one Alembic revision (with an undo) on top of "
        "the chain whose revisions are in DIR",
    )  # fmt: skip
    parser.add_argument(
        "--all", action="store_true",
        help="list findings on small objects too (default: under 10,000 rows and 8 MB they "
        "are counted in one line)",
    )  # fmt: skip
    parser.add_argument(
        "--schema", action="append", metavar="NAME", help="only this schema (repeatable)"
    )
    parser.add_argument(
        "--table", action="append", metavar="PATTERN",
        help="only tables matching NAME or SCHEMA.NAME, * and ? allowed (repeatable)",
    )  # fmt: skip
