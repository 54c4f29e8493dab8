"""Run dbtune's own Alembic revisions from Python (the embedded demo and the tests use this).

A wheel carries the top-level ``alembic/`` folder as ``dbtune/_alembic``; a source checkout or an
editable install uses the folder itself.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError

from dbtune.errors import DbtuneError, MigrationError

BASELINE = "0001_baseline"


def script_location() -> Path:
    """The folder holding ``env.py`` and ``versions/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_alembic", here.parents[1] / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DbtuneError(
        "dbtune's migrations are missing from this installation; reinstall with "
        "`pip install dbtune` or run from a source checkout"
    )


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that does not reconfigure the caller's logging."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``url``."""
    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None


def downgrade(url: str, revision: str) -> None:
    """``alembic downgrade <revision>`` on ``url``."""
    try:
        command.downgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
