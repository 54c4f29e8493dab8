"""``dbtune stats export`` and ``dbtune stats import``: production's planner statistics on a
test-sized database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dbtune.cli.args import DSN_HELP, DSN_HELP_NO_DEMO, EXIT_OK, Parser, database, shared
from dbtune.commands import stats
from dbtune.commands.stats import GROW_LIMIT_MB, Restored, StatsFile
from dbtune.db import connect
from dbtune.db.dsn import describe
from dbtune.errors import UsageError
from dbtune.results import stderr_console


def _url(args: argparse.Namespace, what: str) -> str:
    if what == "export":
        return database(args.dsn, "stats export")[0]
    why = "production's figures belong in the database your tests or checks use"
    return database(args.dsn, f"stats {what}", demo=why)[0]


def run_export(args: argparse.Namespace) -> int:
    url = _url(args, "export")
    data = stats.export(url, schemas=args.schema or (), tables=args.table or (),
                        values=not args.no_values)  # fmt: skip
    stats.write(Path(args.out), data)
    tables = data["tables"]
    columns = sum(len(t["columns"]) for t in tables)
    note = (
        "; without the columns' values (--no-values): equality and ranges on a skewed column "
        "are then planned as if uniform"
        if args.no_values
        else ""
    )
    stderr_console().print(
        f"dbtune: wrote the statistics of {len(tables)} tables and {columns} columns of "
        f"{describe(url)} to {args.out}{note}",
        soft_wrap=True,
    )
    return EXIT_OK


def print_growth(done: Restored) -> None:
    """What growing the files did (stderr): grown tables, and those that still plan small."""
    console = stderr_console()
    grown = done.grown
    if grown.tables:
        console.print(
            f"dbtune: grew {grown.count()} to the file's page counts "
            f"({grown.written_bytes >> 20:,} MB: copies of their rows, deleted "
            f"again by the same transaction): {'; '.join(grown.tables)}",
            soft_wrap=True,
        )
    for why in grown.skipped:
        console.print(f"dbtune: {why}", soft_wrap=True)


def run_import(args: argparse.Namespace) -> int:
    statistics = StatsFile(args.file)
    url = _url(args, "import")
    if args.grow_limit < 0:
        raise UsageError("--grow-limit is in MB and cannot be negative (0: do not grow)")
    with connect(url) as conn:
        done = statistics.into_database(conn, keep_autovacuum=args.keep_autovacuum,
                                        grow_limit_mb=args.grow_limit)  # fmt: skip
    console = stderr_console()
    for why in done.skipped:
        console.print(f"dbtune: skipped {why}", soft_wrap=True)
    print_growth(done)
    kept = (
        "autovacuum is still on for them (--keep-autovacuum)"
        if args.keep_autovacuum
        else f"autovacuum switched off on {len(done.autovacuum_off)} of them "
        "(ALTER TABLE ... SET (autovacuum_enabled = off, vacuum_truncate = off))"
    )
    console.print(
        f"dbtune: imported the statistics of {done.tables} tables, {done.indexes} indexes and "
        f"{done.columns} columns into {describe(url)}; the next ANALYZE of a table replaces "
        f"them: {kept}",
        soft_wrap=True,
    )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "stats",
        help="carry planner statistics from one database to another (PostgreSQL 18 to import)",
    )
    stats_sub = parser.add_subparsers(dest="stats_command", required=True, parser_class=Parser)
    export = stats_sub.add_parser(
        "export", parents=shared(dsn=DSN_HELP),
        help="write the tables', indexes' and columns' planner statistics to a file",
        description="Reads pg_class and pg_stats (reads only; a role with pg_read_all_stats "
        "sees every column) and writes versioned JSON.",
    )  # fmt: skip
    export.add_argument("--out", required=True, help="the JSON file to write")
    export.add_argument("--schema", action="append", metavar="NAME", help="only this schema")
    export.add_argument("--table", action="append", metavar="NAME", help="only this table")
    export.add_argument(
        "--no-values", action="store_true",
        help="leave out the columns' most common values and histograms (they hold real data)",
    )  # fmt: skip
    export.set_defaults(func=run_export)
    load = stats_sub.add_parser(
        "import", parents=shared(dsn=DSN_HELP_NO_DEMO),
        help="apply a statistics file to a database of the same schema",
        description="Matches tables, indexes and columns by name, skips and lists what does "
        "not match, and applies the rest in one transaction through pg_restore_relation_stats "
        "and pg_restore_attribute_stats (PostgreSQL 18+). Tables smaller here first have "
        "their files grown with copies of their rows that the same transaction deletes: no "
        "session ever sees one.",
    )  # fmt: skip
    load.add_argument("file", help="a file written by dbtune stats export")
    load.add_argument(
        "--keep-autovacuum", action="store_true",
        help="leave autovacuum on for the imported tables (its ANALYZE replaces the figures)",
    )  # fmt: skip
    load.add_argument(
        "--grow-limit", type=int, default=GROW_LIMIT_MB, metavar="MB",
        help="grow smaller table files to the file's page counts, writing at most this much "
        f"(default {GROW_LIMIT_MB}; 0: do not grow). The planner sizes a table by its file, "
        "not by the imported row count",
    )  # fmt: skip
    load.set_defaults(func=run_import)
