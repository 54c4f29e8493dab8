"""``dbtune trace``: what each revision of a chain locks, rewrites and scans."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    EXIT_OK,
    REPORT_FORMATS,
    emit,
    positive_int,
    shared,
)
from dbtune.commands.stats import StatsFile
from dbtune.config import load_config
from dbtune.db.dsn import describe, redact, resolve_url
from dbtune.results import stderr_console


def run(args: argparse.Namespace) -> int:
    from dbtune.commands import trace  # its tools load when the command runs

    options = trace.TraceOptions(
        ini=Path(args.config) if args.config else None,
        script_location=Path(args.script_location) if args.script_location else None,
        from_revision=args.from_revision,
        to_revision=args.to_revision,
        version_table=args.version_table,
        version_table_schema=args.version_table_schema,
        driver=args.driver,
        settings=trace.Settings(large_rows=args.large_rows),
    )
    files = frozenset(Path(p).resolve() for p in args.revision_files) or None
    request = trace.TraceRequest(
        options,
        url=resolve_url(args.dsn, load_config().dsn_env),
        rows=args.rows,
        files=files,
        changed_since=args.changed_since,
        stats=StatsFile(args.stats) if args.stats else None,  # a bad file fails first
    )
    selected = trace.select(request)
    console = stderr_console()
    if selected.embedded:
        console.print(
            f"dbtune: tracing on a fresh database on the embedded PostgreSQL "
            f"({describe(selected.url)}), {selected.options.rows:,} rows per table",
            soft_wrap=True,
        )
    if selected.nothing:
        console.print("dbtune: no revision file selected: nothing to trace", soft_wrap=True)
        return EXIT_OK
    with console.status("tracing") as status:
        traced = trace.run(selected, lambda text: status.update(text))
    chain, report = traced.chain, traced.report
    results = trace.as_results(report)
    emit(args.format, lambda: trace.render_json(report), results)
    failed = [r for r in chain.revisions if r.error]
    if failed:
        print(
            f"dbtune: error: revision {failed[0].revision} failed, so the revisions after it "
            f"were not traced: {redact(failed[0].error or '')}",
            file=sys.stderr,
        )
    return results.exit_code


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "trace",
        parents=shared(
            dsn="database to migrate (default: a fresh embedded one)", formats=REPORT_FORMATS
        ),
        help="run Alembic revisions on a scratch database and report what each statement "
        "locks, rewrites and scans",
        description="Runs the pending revisions of an Alembic chain one at a time — on a "
        "fresh database of the embedded server by default (every empty table given --rows "
        "rows before each revision), or on the database --dsn names (a staging copy: trace "
        "MIGRATES it) — records for every statement the locks it took, the tables it "
        "rewrote or scanned and the constraints it validated, and judges them with the "
        "rules of docs/trace.md. The revisions run through Alembic, not through your "
        "env.py, so nothing but the named database is touched. Exit 0 clean, 1 a rule "
        "flagged a revision, 2 a revision failed or bad usage.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", help="alembic.ini (default ./alembic.ini)")
    where.add_argument("--script-location", help="the migrations folder, without an ini")
    parser.add_argument(
        "--from", dest="from_revision", help="upgrade to this revision untraced first"
    )
    parser.add_argument("--to", dest="to_revision", default="heads", help="default: heads")
    parser.add_argument(
        "--rows", type=int, default=None,
        help=f"rows for each empty table before each revision (default {2000} on the "
        "embedded server, 0 with --dsn)",
    )  # fmt: skip
    parser.add_argument(
        "--large-rows", type=positive_int, default=1000,
        help="a data change this large beside DDL is a finding (default 1000)",
    )  # fmt: skip
    parser.add_argument(
        "--stats", metavar="FILE",
        help="before each revision, import production's statistics (a `dbtune stats export` "
        "file, PostgreSQL 18) into the tables that exist, their files grown: data migrations "
        "plan and rewrites read at production's scale",
    )  # fmt: skip
    parser.add_argument("--version-table", default="alembic_version")
    parser.add_argument("--version-table-schema", default=None)
    parser.add_argument(
        "--driver", choices=("psycopg", "asyncpg"), default=None,
        help="the driver the revisions run on, as your application runs them (default: the "
        "one the URL names, postgresql+asyncpg://...; psycopg if it names none)",
    )  # fmt: skip
    _add_selection(parser)
    parser.set_defaults(func=run)


def _add_selection(parser: argparse.ArgumentParser) -> None:
    """The revision files reported (all of them run)."""
    parser.add_argument(
        "--changed-since", metavar="GIT_REF",
        help="report only the revision files changed since GIT_REF (the others still run)",
    )  # fmt: skip
    parser.add_argument(
        "revision_files", nargs="*", metavar="FILE",
        help="report only these revision files (pre-commit passes the changed ones)",
    )  # fmt: skip
