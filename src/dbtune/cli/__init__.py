"""``python -m dbtune``: a thin layer over the documented functions.

Each command is a module of this package with ``add_arguments(sub)`` and the ``run`` function
it sets as the handler; :mod:`.args` holds what they share. Errors are caught once, here, and
become one line on stderr and an exit code: 0 every check passed, 1 a check failed, 2 a usage
or connection error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg

from dbtune.cli import (
    advise,
    bench,
    capture,
    doctor,
    explain,
    fleet,
    init_ops,
    pool,
    revision,
    seed,
    stats,
    trace,
)
from dbtune.cli.args import EXIT_USAGE, Parser
from dbtune.db import connection_error_text
from dbtune.db.dsn import redact
from dbtune.errors import DbtuneError, users_file

COMMANDS = (
    explain,
    advise,
    revision,
    capture,
    init_ops,
    seed,
    pool,
    doctor,
    bench,
    trace,
    stats,
    fleet,
)
"""In the order ``dbtune --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dbtune",
        description="Prove that a PostgreSQL service's hot queries use their indexes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_arguments(sub)
    return parser


def _unexpected(exc: BaseException) -> str:
    """One line for an error no command anticipated: what happened, and what to do."""
    if isinstance(exc, psycopg.OperationalError):
        return (
            f"the database connection failed: {connection_error_text(exc)} (check that the "
            "server is up and reachable, then run the command again)"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (
            f"permission denied: {connection_error_text(exc)} (use a role with the privileges "
            "this command needs)"
        )
    if isinstance(exc, psycopg.Error):
        return f"the database refused a statement: {connection_error_text(exc)}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    theirs = users_file(exc)
    if theirs is not None:
        what = (exc.msg or first) if isinstance(exc, SyntaxError) else first
        return f"{theirs}: {type(exc).__name__}: {what} (fix that file, then run again)"
    return f"unexpected {type(exc).__name__}: {first} (please report this)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv[1:]
    try:
        code: int = args.func(args)
    except DbtuneError as exc:
        print(f"dbtune: error: {redact(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dbtune: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"dbtune: error: {redact(_unexpected(exc))}", file=sys.stderr)
        return EXIT_USAGE
    return code
