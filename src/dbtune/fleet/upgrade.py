"""A migration as a rollout: canary targets first, then the rest K at a time.

Each target runs ``alembic -c INI upgrade REV`` in a process of its own (Alembic's context is
a module-level global: two upgrades in one process would share it), with the target's URL in
``DATABASE_URL``, and for a tenant schema ``PGOPTIONS=-csearch_path=<schema>`` and
``DBTUNE_VERSION_TABLE_SCHEMA=<schema>``: dbtune's Alembic environment then takes the tenant's
own migration lock and the online helpers' lock retries apply as in any upgrade. A target
already at the revision is skipped (a rerun resumes), one that fails is named with its
error's first line, and one slow or unreachable target times out without holding up the
others. Never more than K processes, and so K connections, per server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbtune.db import CONNECT_TIMEOUT_S, connection_error_text
from dbtune.db.dsn import APPLICATION_NAME, redact, sqlalchemy_url
from dbtune.errors import ConnectionFailed, DbtuneError, UsageError
from dbtune.fleet.targets import Target

DEFAULT_TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class TargetResult:
    target: Target
    before: str | None
    after: str | None
    seconds: float
    result: str  # upgraded | at target | failed | not run
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.name, "group": self.target.group, "from": self.before,
            "to": self.after, "seconds": round(self.seconds, 2), "result": self.result,
            "error": self.error,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Chain:
    """The Alembic chain the fleet runs: its ini, version table and head."""

    ini: Path
    version_table: str
    head: str

    @classmethod
    def load(cls, ini: Path, to: str | None) -> Chain:
        if not ini.is_file():
            raise UsageError(f"no Alembic ini at {ini}: pass -c path/to/alembic.ini")
        from alembic.config import Config  # Alembic loads when a chain is used, not at --help
        from alembic.script import ScriptDirectory

        config = Config(str(ini))
        script = ScriptDirectory.from_config(config)
        head = to or script.get_current_head()
        if head is None or (to is not None and script.get_revision(to) is None):
            raise UsageError(f"{ini}'s chain has no revision {to or 'head'}")
        table = config.get_main_option("version_table") or "alembic_version"
        return cls(ini, table, str(head))


def current(target: Target, version_table: str) -> str | None:
    """The target's revision as Alembic reads it (``MigrationContext``; None: at base, or no
    version table yet). Raises :class:`ConnectionFailed` when it cannot be read."""
    import sqlalchemy as sa  # loaded when a fleet runs, not at --help
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(
        sqlalchemy_url(target.url),
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": APPLICATION_NAME},
    )
    opts = {"version_table": version_table}
    if target.schema:
        opts["version_table_schema"] = target.schema
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts=opts).get_current_revision()
    except sa.exc.DBAPIError as exc:
        raise ConnectionFailed(
            f"cannot read the revision of {target.name}: {connection_error_text(exc.orig or exc)}"
        ) from None
    except CommandError as exc:  # more than one head in its version table
        raise DbtuneError(f"{target.name}: {exc}") from None
    finally:
        engine.dispose()


def _environment(target: Target) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=target.url)
    if target.schema:
        env["PGOPTIONS"] = f"-csearch_path={target.schema}"
        env["DBTUNE_VERSION_TABLE_SCHEMA"] = target.schema
    return env


def _failure_line(text: str) -> str:
    """The line of a process's output that says what failed (``errors.first_line`` reads an
    exception; this, what ``alembic`` printed before it exited)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith("FAILED") or "Error" in line]
    return redact((failed or lines or ["(no output)"])[-1])


def upgrade_one(target: Target, chain: Chain, timeout_s: float) -> TargetResult:
    started = time.perf_counter()
    try:
        before = current(target, chain.version_table)
    except DbtuneError as exc:
        return TargetResult(target, None, None, time.perf_counter() - started, "failed",
                       _failure_line(str(exc)))  # fmt: skip
    if before == chain.head:
        return TargetResult(target, before, before, time.perf_counter() - started, "at target")
    command = [sys.executable, "-m", "alembic", "-c", str(chain.ini), "upgrade", chain.head]
    try:
        done = subprocess.run(command, env=_environment(target), capture_output=True, text=True,
                              timeout=timeout_s, check=False)  # fmt: skip
        error = "" if done.returncode == 0 else _failure_line(done.stderr or done.stdout)
    except subprocess.TimeoutExpired:
        error = f"timed out after {timeout_s:g} s (--timeout)"
    try:
        after = current(target, chain.version_table)
    except DbtuneError:
        after = None
    result = "upgraded" if not error and after == chain.head else "failed"
    return TargetResult(target, before, after, time.perf_counter() - started, result, error)


@dataclass
class Rollout:
    chain: Chain
    parallel: int
    timeout_s: float = DEFAULT_TIMEOUT_S
    continue_on_error: bool = False
    progress: Callable[[TargetResult], None] = lambda _: None

    def __post_init__(self) -> None:
        self._servers: dict[tuple[str, str], threading.Semaphore] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _budget(self, target: Target) -> threading.Semaphore:
        with self._lock:
            return self._servers.setdefault(target.server(), threading.Semaphore(self.parallel))

    def _one(self, target: Target) -> TargetResult:
        if self._stop.is_set():
            return TargetResult(target, None, None, 0.0, "not run", "stopped after a failure")
        with self._budget(target):
            if self._stop.is_set():
                return TargetResult(target, None, None, 0.0, "not run", "stopped after a failure")
            outcome = upgrade_one(target, self.chain, self.timeout_s)
        if outcome.result == "failed" and not self.continue_on_error:
            self._stop.set()
        self.progress(outcome)
        return outcome

    def run(self, targets: Sequence[Target], canary: int) -> list[TargetResult]:
        """Canary targets first (any failure stops the rollout), then the rest."""
        first, rest = list(targets[:canary]), list(targets[canary:])
        with ThreadPoolExecutor(max_workers=max(1, self.parallel)) as pool:
            outcomes = list(pool.map(self._one, first))
            if any(o.result == "failed" for o in outcomes):
                self._stop.set()
            outcomes += list(pool.map(self._one, rest))
        return outcomes
