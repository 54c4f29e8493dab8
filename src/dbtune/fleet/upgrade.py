"""A migration as a rollout: canary targets first, then the rest K at a time.

K long-lived worker processes (:mod:`.worker`) run the targets back to back through Alembic's
command API, one at a time each (Alembic's context is a module-level global: two upgrades at
once in one process would share it), with the target's URL where the chain's ``env.py``
reads it (``sqlalchemy.url``, ``DATABASE_URL``), and for a tenant schema its quoted
``search_path`` and ``DBTUNE_VERSION_TABLE_SCHEMA``: dbtune's Alembic environment then takes
the tenant's own migration lock and the online helpers' lock retries apply as in any upgrade.
A target already at the revision is skipped (a rerun resumes), one that fails is named with
its error's first line, and one slow or unreachable target times out (its worker is ended,
another takes its place) without holding up the others. A target whose version did not move
although its upgrade raised nothing was not the database the chain's ``env.py`` migrated: the
rollout stops there. Never more than K workers, and so K connections, per server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbtune.db import connect_timeout, connection_error_text
from dbtune.db.dsn import APPLICATION_NAME, redact, sqlalchemy_url
from dbtune.errors import ConnectionFailed, DbtuneError, UsageError
from dbtune.fleet.ledger import Ledger
from dbtune.fleet.targets import Target
from dbtune.fleet.worker import Job, Worker

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
    url_env: str | None = None  # the variable the chain's env.py reads its URL from

    @classmethod
    def load(cls, ini: Path, to: str | None, url_env: str | None = None) -> Chain:
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
        return cls(ini, table, str(head), url_env)


Revision = str | None | DbtuneError
"""A target's revision (None: at base), or why it could not be read."""


def versions(
    targets: Sequence[Target], version_table: str, parallel: int = 1
) -> dict[str, Revision]:
    """Each target's revision as Alembic reads it (``MigrationContext``), the tenants of one
    database over one connection (a thousand tenants are a thousand small queries, not a
    thousand connections), ``parallel`` databases at a time (an unreachable one waits out its
    connect timeout beside the others, not before them)."""
    groups = [[t for t in targets if t.url == url] for url in dict.fromkeys(t.url for t in targets)]
    found: dict[str, Revision] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for part in pool.map(lambda on_it: _database_versions(on_it, version_table), groups):
            found |= part
    return found


def _database_versions(on_it: Sequence[Target], version_table: str) -> dict[str, Revision]:
    import sqlalchemy as sa  # loaded when a fleet runs, not at --help

    engine = sa.create_engine(
        sqlalchemy_url(on_it[0].url),
        poolclass=sa.pool.NullPool,
        connect_args={
            "connect_timeout": connect_timeout(on_it[0].url),
            "application_name": APPLICATION_NAME,
        },
    )
    try:
        with engine.connect() as conn:
            return {t.name: _version(conn, t, version_table) for t in on_it}
    except sa.exc.DBAPIError as exc:
        why = connection_error_text(exc.orig or exc)
        return {t.name: ConnectionFailed(f"cannot read the revision: {why}") for t in on_it}
    finally:
        engine.dispose()


def _version(conn: Any, target: Target, version_table: str) -> Revision:
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    opts = {"version_table": version_table}
    if target.schema:
        opts["version_table_schema"] = target.schema
    try:
        return MigrationContext.configure(conn, opts=opts).get_current_revision()
    except CommandError as exc:  # more than one head in its version table
        return DbtuneError(f"{target.name}: {exc}")
    finally:
        conn.rollback()


def current(target: Target, version_table: str) -> str | None:
    """One target's revision (None: at base, or no version table yet). Raises
    :class:`DbtuneError` when it cannot be read."""
    found = versions([target], version_table)[target.name]
    if isinstance(found, DbtuneError):
        raise found
    return found


def _failure_line(text: str) -> str:
    """The line of a reading's error that says what failed."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact((lines or ["(no output)"])[0])


NOT_MOVED = "its version did not move"
ELSEWHERE = (
    NOT_MOVED + ", yet the upgrade raised nothing: the chain's env.py ({env}) "
    "migrated another database. It must connect to the URL dbtune sets: "
    "config.get_main_option('sqlalchemy.url') or DATABASE_URL (docs/fleet.md)"
)


def upgrade_one(
    target: Target, chain: Chain, worker: Worker, timeout_s: float, before: Revision
) -> TargetResult:
    """One target to the chain's revision on ``worker`` (``before``: its revision read with
    the rest of its database's); its revision read again after."""
    started = time.perf_counter()
    if isinstance(before, DbtuneError):
        return TargetResult(target, None, None, 0.0, "failed", _failure_line(str(before)))
    if before == chain.head:
        return TargetResult(target, before, before, time.perf_counter() - started, "at target")
    job = Job(str(chain.ini.resolve()), chain.head, target.url, target.schema, chain.url_env)
    error = worker.run(job, timeout_s)
    if error is None:
        error = f"timed out after {timeout_s:g} s (--timeout)"
    try:
        after = current(target, chain.version_table)
    except DbtuneError:
        after = None
    if not error and after == before:
        error = ELSEWHERE.format(env=chain.ini.parent / "env.py")
    result = "upgraded" if not error and after == chain.head else "failed"
    return TargetResult(target, before, after, time.perf_counter() - started, result, error)


@dataclass
class Rollout:
    chain: Chain
    parallel: int
    timeout_s: float = DEFAULT_TIMEOUT_S
    continue_on_error: bool = False
    progress: Callable[[TargetResult], None] = lambda _: None
    ledger: Ledger | None = None

    def __post_init__(self) -> None:
        self._servers: dict[tuple[str, str], threading.Semaphore] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()  # each pool thread's worker process
        self._workers: list[Worker] = []
        self._before: dict[str, Revision] = {}

    def _worker(self) -> Worker:
        worker: Worker | None = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._local.worker = Worker()
            with self._lock:
                self._workers.append(worker)
        return worker

    def _budget(self, target: Target) -> threading.Semaphore:
        with self._lock:
            return self._servers.setdefault(target.server(), threading.Semaphore(self.parallel))

    def _one(self, target: Target) -> TargetResult:
        if self._stop.is_set():
            return TargetResult(target, None, None, 0.0, "not run", "stopped after a failure")
        with self._budget(target):
            if self._stop.is_set():
                return TargetResult(target, None, None, 0.0, "not run", "stopped after a failure")
            before = self._before.get(target.name)
            if self.ledger is not None:
                self.ledger.write(target, "start")
            outcome = upgrade_one(target, self.chain, self._worker(), self.timeout_s, before)
            if self.ledger is not None:
                self.ledger.write(target, "end", result=outcome.result, revision=outcome.after,
                                  error=outcome.error)  # fmt: skip
        if outcome.error.startswith("timed out"):
            self._local.worker = None  # ended: the next target gets a new one
        stop = outcome.result == "failed" and not self.continue_on_error
        elsewhere = "ElsewhereError" in outcome.error or outcome.error.startswith(NOT_MOVED)
        if stop or elsewhere:  # the chain's env.py is the problem: no target will do better
            self._stop.set()
        self.progress(outcome)
        return outcome

    def run(self, targets: Sequence[Target], canary: int) -> list[TargetResult]:
        """Canary targets first (any failure stops the rollout), then the rest."""
        first, rest = list(targets[:canary]), list(targets[canary:])
        self._before = versions(targets, self.chain.version_table, self.parallel)
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.parallel)) as pool:
                outcomes = list(pool.map(self._one, first))
                if any(o.result == "failed" for o in outcomes):
                    self._stop.set()
                outcomes += list(pool.map(self._one, rest))
        finally:
            for worker in self._workers:
                worker.close()
        return outcomes
