"""A long-lived worker process: many targets upgraded back to back through Alembic's command
API, one at a time.

Starting a Python process with Alembic and SQLAlchemy imported costs more than most upgrades
(a no-op one especially), so a rollout keeps K of them. Each job is a fresh ``Config`` for the
target: its URL where a stock ``env.py`` reads it (``sqlalchemy.url``) and where dbtune's reads
it (``DATABASE_URL``, ``config.attributes["url"]``), a tenant's schema first on the
``search_path`` (``PGOPTIONS``, quoted) and its version table in it
(``DBTUNE_VERSION_TABLE_SCHEMA``); Alembic's per-run state (its ``context`` proxy, the
``env.py`` module) lives only inside ``command.upgrade``. What the run prints goes to a buffer,
not the terminal. A job that does not answer within its timeout ends the process; the rollout
starts another for the next target.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from contextlib import redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dbtune.db.dsn import redact
from dbtune.errors import users_file
from dbtune.fleet.targets import search_path_option

_PER_TARGET = ("DATABASE_URL", "PGOPTIONS", "DBTUNE_VERSION_TABLE_SCHEMA")


@dataclass(frozen=True, slots=True)
class Job:
    ini: str
    revision: str
    url: str
    schema: str | None
    url_env: str | None = None  # the variable the chain's env.py reads its URL from


def _environment(job: Job, baseline: dict[str, str]) -> None:
    """The process environment for one target: its URL, its tenant's schema, nothing left
    over from the target before."""
    for name in _PER_TARGET:
        if name in baseline:
            os.environ[name] = baseline[name]
        else:
            os.environ.pop(name, None)
    os.environ["DATABASE_URL"] = job.url
    if job.url_env:
        os.environ[job.url_env] = job.url
    if job.schema:
        os.environ["PGOPTIONS"] = search_path_option(job.schema)
        os.environ["DBTUNE_VERSION_TABLE_SCHEMA"] = job.schema


def _error_line(exc: BaseException, printed: str) -> str:
    """What failed, in one line: a user's file and line when the error comes from one (a
    revision, an ``env.py``), then the exception's first line or Alembic's FAILED line."""
    theirs = users_file(exc)
    where = f"{theirs}: " if theirs else ""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    failed = [line for line in printed.splitlines() if line.startswith("FAILED")]
    text = lines[0] if lines else (failed[-1] if failed else type(exc).__name__)
    return redact(f"{where}{type(exc).__name__}: {text}")


_EXPECTED: dict[str, str] = {}
"""The database the job in progress may connect to (its name), for :func:`_guard`."""


class ElsewhereError(RuntimeError):
    """The chain's env.py asked for a database no target names."""


def _guard() -> None:
    """Refuse, before it connects, an engine the chain's env.py makes for a database other
    than the target's: a stock env.py reads ``sqlalchemy.url`` (set to the target), but one
    that reads its own setting would migrate whatever that names — a SQLite file in the
    working directory, another database."""
    import sqlalchemy
    from sqlalchemy.engine import create as create_module
    from sqlalchemy.engine import make_url

    original = create_module.create_engine

    def guarded(url: Any, *args: Any, **kwargs: Any) -> Any:
        wanted = _EXPECTED.get("database")
        named = make_url(url)
        if wanted is not None and (
            named.get_backend_name() != "postgresql" or named.database != wanted
        ):
            raise ElsewhereError(
                f"the chain's env.py asked for {named.get_backend_name()} database "
                f"{named.database!r}, not the target's {wanted!r}: it must connect to the URL "
                "dbtune sets, config.get_main_option('sqlalchemy.url') or DATABASE_URL "
                "(docs/fleet.md); nothing was migrated"
            )
        return original(url, *args, **kwargs)

    sqlalchemy.create_engine = create_module.create_engine = guarded


def upgrade(job: Job, baseline: dict[str, str]) -> str:
    """Upgrade one target in this process: '' or what failed, in one line."""
    from alembic import command
    from alembic.config import Config

    from dbtune.db.dsn import sqlalchemy_url

    _environment(job, baseline)
    _EXPECTED["database"] = str(sqlalchemy_url(job.url).database)
    config = Config(job.ini)
    config.set_main_option("sqlalchemy.url", job.url.replace("%", "%%"))
    config.attributes["url"] = job.url
    printed = io.StringIO()
    try:
        with redirect_stdout(printed), redirect_stderr(printed):
            command.upgrade(config, job.revision)
    except BaseException as exc:  # the target's own failure, whatever raised it
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _error_line(exc, printed.getvalue())
    return ""


def _serve(conn: Connection) -> None:
    """The worker's loop: a job in, its error line ('' when it went well) out; None ends it."""
    baseline = {name: os.environ[name] for name in _PER_TARGET if name in os.environ}
    _guard()
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(upgrade(job, baseline))


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # no state of the parent's threads
        self._conn, child = context.Pipe()
        self._process: Any = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def run(self, job: Job, timeout_s: float) -> str | None:
        """The job's error line ('' for none), or None when it did not answer in time (the
        process is ended then)."""
        self._conn.send(job)
        if self._conn.poll(timeout_s):
            try:
                return str(self._conn.recv())
            except EOFError:
                return "the worker process ended during the upgrade"
        self.kill()
        return None

    def kill(self) -> None:
        self._process.kill()
        self._process.join(timeout=10)

    def close(self) -> None:
        with suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self.kill()
