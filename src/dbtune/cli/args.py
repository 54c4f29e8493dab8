"""What every command shares: the parser class with one-line errors, the exit codes, the
``--dsn``/``--format`` options, argument types, and the consoles and renderers."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from typing import NoReturn

from rich.console import Console

from dbtune.results import Report, render_junit, render_markdown, render_table, stderr_console

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
PIPED_WIDTH = 160
DSN_HELP = (
    "database URL (default: DATABASE_URL, or the variable [tool.dbtune] dsn_env names; "
    "then the embedded demo database)"
)
DSN_HELP_NO_DEMO = "database URL (default: DATABASE_URL, or [tool.dbtune] dsn_env)"
REPORT_FORMATS = ("table", "json", "markdown", "junit")
TABLE_OR_JSON = ("table", "json")
WORKLOAD_HELP = "workload TOML file (default: [tool.dbtune] workload, else the shipped one)"


def shared(
    *, dsn: str | None = None, workload: str | None = None, formats: Sequence[str] | None = None
) -> list[argparse.ArgumentParser]:
    """``--dsn``, ``--workload`` and ``--format`` as one argparse parent parser: declared here
    once for every command (``sub.add_parser(..., parents=shared(dsn=DSN_HELP))``); each
    command says only its help or its choices."""
    parent = argparse.ArgumentParser(add_help=False)
    if dsn is not None:
        parent.add_argument("--dsn", help=dsn)
    if workload is not None:
        parent.add_argument("--workload", metavar="FILE", help=workload)
    if formats is not None:
        parent.add_argument("--format", choices=tuple(formats), default=formats[0])
    return [parent]


def say(text: str) -> None:
    """A command's note to the user: stderr, one line however long."""
    stderr_console().print(f"dbtune: {text}", soft_wrap=True)


def database(
    dsn: str | None, command: str, *, demo: str | None = None, stat_statements: bool = False
) -> tuple[str, bool]:
    """(URL, embedded): the one rule every command that needs a database follows. ``--dsn``,
    then the configured variable (``DATABASE_URL`` unless ``[tool.dbtune] dsn_env`` names
    another), then — for a command where it makes sense (``demo`` is None) — the embedded demo
    database. Where it does not, ``demo`` says why, in the same one-line error everywhere. A
    URL from the environment is named in one line on stderr; the demo database names itself."""
    from dbtune.config import load_config
    from dbtune.db.dsn import describe, resolve_url
    from dbtune.errors import UsageError

    variable = load_config().dsn_env
    url = resolve_url(dsn, variable)
    if url is not None:
        if not dsn:
            stderr_console().print(f"dbtune {command}: {describe(url)} (from {variable})",
                                   soft_wrap=True)  # fmt: skip
        return url, False
    if demo is not None:
        raise UsageError(
            f"{command} needs a database: pass --dsn postgresql://... or set {variable} "
            f"(not the embedded demo database: {demo})"
        )
    from dbtune.reference.demo import embedded_demo_url

    return embedded_demo_url(stat_statements=stat_statements), True


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where to look, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def sizes(text: str) -> list[int]:
    return [positive_int(part.strip()) for part in text.split(",") if part.strip()]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def size_mb(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megabytes") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def report_console() -> Console:
    """The terminal's width on a terminal; when piped (CI logs, files), wide enough that no
    index name is folded across lines, so the output can be searched for it."""
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=PIPED_WIDTH)
    return console


def emit(fmt: str, as_json: Callable[[], str], results: Report) -> None:
    """Print a report: the tool's own JSON, or the shared Markdown, JUnit or table."""
    if fmt == "table":
        render_table(results, report_console())
        return
    text = (
        as_json()
        if fmt == "json"
        else {"markdown": render_markdown, "junit": render_junit}[fmt](results)
    )
    print(text, end="" if text.endswith("\n") else "\n")


def without_dsns(argv: Sequence[str]) -> list[str]:
    """The arguments without database URLs (they may hold a password), for a docstring."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--dsn", "--replica"):
            skip = True
        elif not arg.startswith(("--dsn=", "--replica=")):
            kept.append(arg)
    return kept
