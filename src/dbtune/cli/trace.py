"""``dbtune trace``: what each revision of a chain locks, rewrites and scans."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    EXIT_OK,
    emit,
    positive_int,
)
from dbtune.config import load_config
from dbtune.db.dsn import describe, redact, resolve_url
from dbtune.results import stderr_console


def run(args: argparse.Namespace) -> int:
    from dbtune.trace import judge
    from dbtune.trace import report as trace_report
    from dbtune.trace.changed import changed_since
    from dbtune.trace.rules import Settings
    from dbtune.trace.runner import DEFAULT_ROWS, TraceOptions, load_script, trace_chain
    from dbtune.trace.scratch import scratch_url

    options = TraceOptions(
        ini=Path(args.config) if args.config else None,
        script_location=Path(args.script_location) if args.script_location else None,
        from_revision=args.from_revision,
        to_revision=args.to_revision,
        version_table=args.version_table,
        version_table_schema=args.version_table_schema,
        settings=Settings(large_rows=args.large_rows),
    )
    if args.stats:  # a bad file, then a bad path, fail before any server starts
        from dbtune.stats import file as stats_file
        from dbtune.stats.restore import import_before

        data = stats_file.read(Path(args.stats))
        options = replace(options, before_each=lambda conn, rev: import_before(conn, data, rev))
    _, script = load_script(options)
    only = None
    if args.revision_files:
        only = frozenset(Path(p).resolve() for p in args.revision_files)
    if args.changed_since:
        changed = changed_since(args.changed_since, Path(script.versions))
        only = changed if only is None else only & changed
    url = resolve_url(args.dsn, load_config().dsn_env)
    console = stderr_console()
    if url is None:
        url = scratch_url()
        rows = DEFAULT_ROWS if args.rows is None else args.rows
        console.print(
            f"dbtune: tracing on a fresh database on the embedded PostgreSQL "
            f"({describe(url)}), {rows:,} rows per table",
            soft_wrap=True,
        )
    else:
        rows = args.rows or 0
    options = replace(options, rows=rows, only=only)
    if only is not None and not only:
        console.print("dbtune: no revision file selected: nothing to trace", soft_wrap=True)
        return EXIT_OK
    with console.status("tracing") as status:
        chain = trace_chain(url, options, lambda text: status.update(text))
    report = judge(chain, options.settings)
    results = trace_report.as_results(report)
    emit(args.format, lambda: trace_report.render_json(report), results)
    failed = [r for r in chain.revisions if r.error]
    if failed:
        print(
            f"dbtune: error: revision {failed[0].revision} failed, so the revisions after it "
            f"were not traced: {redact(failed[0].error or '')}",
            file=sys.stderr,
        )
    return results.exit_code


def add_arguments(sub: Any) -> None:
    trace = sub.add_parser(
        "trace",
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
    trace.add_argument("--dsn", help="database to migrate (default: a fresh embedded one)")
    where = trace.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", help="alembic.ini (default ./alembic.ini)")
    where.add_argument("--script-location", help="the migrations folder, without an ini")
    trace.add_argument(
        "--from", dest="from_revision", help="upgrade to this revision untraced first"
    )
    trace.add_argument("--to", dest="to_revision", default="heads", help="default: heads")
    trace.add_argument(
        "--rows", type=int, default=None,
        help=f"rows for each empty table before each revision (default {2000} on the "
        "embedded server, 0 with --dsn)",
    )  # fmt: skip
    trace.add_argument(
        "--large-rows", type=positive_int, default=1000,
        help="a data change this large beside DDL is a finding (default 1000)",
    )  # fmt: skip
    trace.add_argument(
        "--stats", metavar="FILE",
        help="before each revision, import production's statistics (a `dbtune stats export` "
        "file, PostgreSQL 18) into the tables that exist, their files grown: data migrations "
        "plan and rewrites read at production's scale",
    )  # fmt: skip
    trace.add_argument("--version-table", default="alembic_version")
    trace.add_argument("--version-table-schema", default=None)
    trace.add_argument(
        "--changed-since", metavar="GIT_REF",
        help="report only the revision files changed since GIT_REF (the others still run)",
    )  # fmt: skip
    trace.add_argument(
        "revision_files", nargs="*", metavar="FILE",
        help="report only these revision files (pre-commit passes the changed ones)",
    )  # fmt: skip
    trace.add_argument("--format", choices=("table", "json", "markdown", "junit"), default="table")
    trace.set_defaults(func=run)
