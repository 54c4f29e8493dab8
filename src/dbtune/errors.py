"""Exceptions that the CLI turns into one line and an exit code.

Every message says what happened and what to do next, and never contains a password: callers
pass URLs through :func:`dbtune.db.dsn.redact` before putting them in a message.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from pathlib import Path


class DbtuneError(Exception):
    """Base class: a problem the user can act on, reported without a traceback."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DbtuneError):
    """Bad arguments, environment variables or input files."""


class ConnectionFailed(DbtuneError):
    """The database could not be reached or refused the login."""


class MissingExtra(DbtuneError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed: pip install 'dbtune[{extra}]'")
        self.module = module
        self.extra = extra


class MigrationError(DbtuneError):
    """An online index operation could not complete; the message names the index and the fix."""


for _cls in (DbtuneError, UsageError, ConnectionFailed, MissingExtra, MigrationError):
    _cls.__module__ = "dbtune"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a server error's detail lines left out), or
    its type's name when it has none: what a one-line report of it shows."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_NOT_YOURS = tuple(
    os.path.join(str(Path(p).resolve()), "")
    for p in (str(Path(__file__).parent), *sysconfig.get_paths().values())
)
"""dbtune itself, the standard library and the installed packages (each with a trailing /)."""


def users_file(exc: BaseException) -> str | None:
    """``path, line N (in f)`` when the error comes from a file of the user's (a revision that
    does not import, an env.py that raises), not from dbtune or a library: then it is theirs
    to fix, not a dbtune bug to report."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{exc.filename}, line {exc.lineno}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = str(Path(frame.filename).resolve())
        if frame.filename.startswith("<") or path.startswith(_NOT_YOURS):
            continue
        return f"{frame.filename}, line {frame.lineno} (in {frame.name})"
    return None
