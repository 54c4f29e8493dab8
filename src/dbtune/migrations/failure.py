"""A helper's failure as Alembic's command line shows it, whatever ``env.py`` runs it.

``alembic`` prints a :class:`~alembic.util.CommandError` as one ``FAILED: <message>`` line and
everything else as a traceback. dbtune's own ``env.py`` converts its errors, but most projects
run the helpers from an ``env.py`` of their own, so each public helper raises errors that are
both dbtune's (``except MigrationError`` keeps working) and Alembic's command errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from alembic.util import CommandError

from dbtune.errors import MigrationError, UsageError

P = ParamSpec("P")
R = TypeVar("R")


class MigrationFailed(MigrationError, CommandError):
    """An online operation could not complete (shown by Alembic as one FAILED line)."""


class MigrationRefused(UsageError, CommandError):
    """An online operation was given a budget or input that makes no sense."""


def shown_by_alembic(helper: Callable[P, R]) -> Callable[P, R]:
    """Re-raise dbtune's errors from ``helper`` as Alembic command errors too."""

    @functools.wraps(helper)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return helper(*args, **kwargs)
        except CommandError:
            raise
        except MigrationError as exc:
            raise MigrationFailed(exc.message) from None
        except UsageError as exc:
            raise MigrationRefused(exc.message) from None

    return wrapper
