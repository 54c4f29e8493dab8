"""Run dbtune's own Alembic revisions from Python (the embedded demo and the tests use this).

A wheel carries the top-level ``alembic/`` folder as ``dbtune/_alembic``; a source checkout or an
editable install uses the folder itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dbtune.db import connect
from dbtune.errors import DbtuneError, MigrationError
from dbtune.reference.seed import existing_rows, seed

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and SQLAlchemy under it) is imported where a migration runs, not with this module:
# every CLI command imports it, and most never migrate.

BASELINE = "0001_baseline"


def script_location() -> Path:
    """The folder holding ``env.py`` and ``versions/``."""
    package = Path(__file__).resolve().parents[1]  # dbtune/, in a wheel or a checkout
    for candidate in (package / "_alembic", package.parents[1] / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DbtuneError(
        "dbtune's migrations are missing from this installation; reinstall with "
        "`pip install dbtune` or run from a source checkout"
    )


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that does not reconfigure the caller's logging."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``url``."""
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None


def downgrade(url: str, revision: str) -> None:
    """``alembic downgrade <revision>`` on ``url``."""
    from alembic import command
    from alembic.util import CommandError

    try:
        command.downgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None


class Seeder(Protocol):
    def __call__(self, url: str, *, messages: int, users: int) -> object: ...


def prepare(
    url: str, *, messages: int, users: int, revision: str = "head", seeder: Seeder | None = None
) -> tuple[int, bool]:
    """Migrate ``url`` to ``revision`` and seed it when it holds no messages.

    Returns the messages now there and whether this call seeded them. The CLI passes a seeder
    that shows a progress bar; scripts use the plain one.
    """
    upgrade(url, revision)
    with connect(url) as conn:
        present = existing_rows(conn)
    if present:
        return present, False
    (seeder or seed)(url, messages=messages, users=users)
    return messages, True
