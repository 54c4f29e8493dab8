"""``dbtune advise``: one index design for the whole workload."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    DSN_HELP,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    WORKLOAD_HELP,
    database,
    positive_int,
    shared,
    without_dsns,
)
from dbtune.config import load_config
from dbtune.errors import UsageError
from dbtune.query.what_if import ENGINES
from dbtune.results import stderr_console
from dbtune.workload import Workload, load_workload

CAPTURE_TOP = 200


def _workload(args: argparse.Namespace, url: str) -> Workload:
    from dbtune.commands import capture

    """The hand-written workload, the captured one (``--from-stats``), or both."""
    config = load_config()
    queries = []
    if args.workload or not args.from_stats:
        queries += list(load_workload(args.workload or config.workload_path()).queries)
    if args.from_stats:
        _, captured = capture.statement_queries(url, top=CAPTURE_TOP, min_calls=args.min_calls)
        names = {q.name for q in queries}
        queries += [q for q in captured if q.name not in names]
    if not queries:
        raise UsageError(
            "no query to design for: the workload is empty and pg_stat_statements "
            "has none yet (let the application run, or pass --workload)"
        )
    return Workload("<advise>", tuple(queries))


def run(args: argparse.Namespace) -> int:
    from dbtune.commands import advise  # its tools load when the command runs

    url, embedded = database(args.dsn, "advise", stat_statements=True)
    workload = _workload(args, url)
    console = stderr_console()
    with console.status("advise") as status:
        options = advise.AdviseOptions(
            url,
            workload,
            engine=args.what_if,
            embedded=embedded,
            max_per_table=args.max_indexes_per_table,
            max_write_overhead=args.max_write_overhead,
            propose_drops=args.propose_drops,
            versions=Path(args.write_revision) if args.write_revision else None,
            storage_budget=args.storage_budget,
            budget_curve=args.budget_curve or (),
            max_index_columns=args.max_index_columns,
        )
        design = advise.run(options, lambda text: status.update(text))
    if args.format == "table":
        from rich.markdown import Markdown

        from dbtune.cli.args import report_console

        report_console().print(Markdown(advise.render_markdown(design)))
    else:
        json_out = args.format == "json"
        text = advise.render_json(design) if json_out else advise.render_markdown(design)
        print(text, end="" if text.endswith("\n") else "\n")
    if args.write_revision and not design.chosen and not design.drops:
        console.print("dbtune: no revision written: the design has nothing to build or drop")
    elif args.write_revision:
        command = "dbtune " + " ".join(portable(a) for a in without_dsns(sys.argv[1:]))
        path = advise.write_revision(design, Path(args.write_revision), command)
        console.print(f"dbtune: wrote {path}", soft_wrap=True)
    for key in design.selection.unfixable:
        console.print(f"dbtune: no candidate makes {key} pass", soft_wrap=True)
    return EXIT_OK if design.passed else EXIT_CHECK_FAILED


def portable(arg: str) -> str:
    """An argument as a committed file may record it: an absolute path made relative to the
    working directory, or cut to its last two parts (no user's home in a revision)."""
    if arg.startswith("--") and "=" in arg:
        flag, value = arg.split("=", 1)
        return f"{flag}={portable(value)}"
    path = Path(arg)
    if not path.is_absolute():
        return arg
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(Path(*path.parts[-2:]))


def _fraction(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a share of the row's bytes, 0 or more (0.5: half)")
    return value


def _budget(parse: str) -> Callable[[str], Any]:
    """argparse's type for a budget (``parse``: the command's parser's name), with its own
    message on bad input; the command loads only when a budget is given."""

    def parsed(text: str) -> Any:
        from dbtune.commands import advise

        try:
            return getattr(advise, parse)(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parsed


def _budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-budget",
        type=_budget("parse_budget"),
        metavar="SIZE",
        help="dbtune's indexes' estimated sizes in all at most this — the new ones, and "
        "those the --write-revision chain already built: 512MB, 1.5GB, or 0.25x (a share of "
        "the size of the tables the workload reads)",
    )
    parser.add_argument(
        "--budget-curve",
        type=_budget("parse_budgets"),
        metavar="B1,B2,...",
        help="also the design and the workload's relative estimated cost at each of these "
        "budgets (same syntax), from the same cost matrix",
    )
    parser.add_argument(
        "--max-index-columns",
        type=positive_int,
        metavar="N",
        help="no candidate with more key columns than this (2: the published evaluations')",
    )


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "advise",
        parents=shared(dsn=DSN_HELP, workload=WORKLOAD_HELP, formats=("table", "json", "markdown")),
        help="one index design for the whole workload: chosen together, verified, with drops",
        description="Plans every query of the workload, takes the advisor's per-query "
        "suggestions and their merges as candidates, plans each query with each candidate "
        "(HypoPG, or a rolled-back build on the embedded server), chooses the set exactly "
        "(least weighted cost, then fewest indexes; OR-Tools CP-SAT), verifies it, and lists "
        "the existing indexes no query then uses that doctor calls unused or redundant. "
        "Exit 0 every query passes with the design, 1 some still fail, 2 an error.",
    )
    parser.add_argument(
        "--from-stats",
        action="store_true",
        help=f"the top {CAPTURE_TOP} statements of pg_stat_statements too, weighted by calls",
    )
    parser.add_argument("--min-calls", type=positive_int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--max-indexes-per-table", type=int, default=None, metavar="N")
    parser.add_argument(
        "--max-write-overhead",
        type=_fraction,
        default=None,
        metavar="F",
        help="per table, the new indexes' bytes per write over the row's bytes (0.5: half)",
    )
    parser.add_argument(
        "--propose-drops",
        action="store_true",
        help="also weigh dropping existing indexes no verified plan uses that doctor calls "
        "unused or redundant (never without this flag: they are the application's)",
    )
    _budget_arguments(parser)
    parser.add_argument("--what-if", choices=ENGINES, default="auto")
    parser.add_argument(
        "--write-revision",
        metavar="DIR",
        help="write one Alembic revision for the design into this versions directory",
    )
    parser.set_defaults(func=run)
