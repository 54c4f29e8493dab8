"""Exceptions that the CLI turns into one line and an exit code.

Every message says what happened and what to do next, and never contains a password: callers
pass URLs through :func:`dbtune.db.dsn.redact` before putting them in a message.
"""

from __future__ import annotations


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
