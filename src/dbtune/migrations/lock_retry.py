"""One retry loop for every online operation: short lock waits, backoff with jitter, named blockers.

A DDL statement that queues for a lock also blocks everything that queues behind it, so each
attempt waits at most ``lock_timeout``; between attempts the operation backs off (exponentially,
with jitter so that two runs do not retry in step) and, before the next attempt, waits while a
transaction older than the timeout still holds the table: starting an operation that can only
time out half-way would leave an INVALID index behind. When the budget is spent, the error names
each blocking session (pid, state, transaction age, query) and what to do.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations.catalog import Blocker, find_blockers
from dbtune.migrations.statements import execute
from dbtune.migrations.tunables import Tunables

log = logging.getLogger("dbtune.migrations")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
LOCK_NOT_AVAILABLE = "55P03"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error (psycopg ``sqlstate``, asyncpg ``sqlstate``/``pgcode``)."""
    orig = getattr(exc, "orig", None) or exc
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_lock_timeout(exc: BaseException) -> bool:
    return sqlstate(exc) == LOCK_NOT_AVAILABLE


@dataclass
class LockRetry:
    """Runs ``attempt`` until it gets its locks or the budget is spent.

    ``what`` names the operation for messages ("build index ix_a on orders"), ``table_oids``
    are the tables whose lock holders are looked up (a foreign key locks two), ``every_lock``
    counts readers as blockers too (for statements that need ACCESS EXCLUSIVE), ``snapshots``
    counts every open snapshot (what a concurrent index build waits for), and ``prewait``
    holds an attempt back while a transaction older than the timeout is in the way (for
    operations that a timeout would cut half-way, such as concurrent index builds and drops).
    """

    conn: sa.Connection
    what: str
    table_oids: tuple[int, ...]
    budget: Tunables
    every_lock: bool = False
    snapshots: bool = True
    prewait: bool = True
    rng: random.Random = field(default_factory=random.Random)
    blockers: list[Blocker] = field(default_factory=list)

    def delay_s(self, attempt: int) -> float:
        """Exponential backoff with jitter: half to all of ``first * 2**(attempt-1)``."""
        ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
        return float(ceiling * (0.5 + 0.5 * self.rng.random()))

    def run(
        self, attempt: Callable[[], None], *, after_timeout: Callable[[], None] | None = None
    ) -> None:
        started = time.monotonic()
        for number in range(self.budget.lock_retries + 1):
            if number:
                time.sleep(self.delay_s(number))
            old = self._blockers(min_age_s=self.budget.lock_timeout_s) if self.prewait else []
            if old:
                self.blockers = old
                log.warning("%s: waiting for %s", self.what, old[0].describe())
                continue
            try:
                attempt()
                return
            except sa.exc.DBAPIError as exc:
                if not is_lock_timeout(exc):
                    raise
            self.blockers = self._blockers() or self.blockers
            log.warning(
                "%s: lock_timeout %s reached (attempt %d of %d)",
                self.what,
                self.budget.lock_timeout,
                number + 1,
                self.budget.lock_retries + 1,
            )
            if after_timeout is not None:
                after_timeout()
        raise MigrationError(self.message(time.monotonic() - started))

    def _blockers(self, min_age_s: float = 0.0) -> list[Blocker]:
        return find_blockers(
            self.conn,
            self.table_oids,
            min_age_s,
            every_lock=self.every_lock,
            snapshots=self.snapshots,
        )

    def message(self, waited_s: float) -> str:
        listed = "; ".join(b.describe() for b in self.blockers[:5]) or "no session found any more"
        pids = ", ".join(str(b.pid) for b in self.blockers[:5])
        fix = (
            f"end those transactions (SELECT pg_terminate_backend(pid) for {pids}), "
            if pids
            else ""
        )
        return (
            f"could not {self.what}: other transactions held it up for "
            f"{self.budget.lock_retries + 1} attempt(s) over {waited_s:.1f} s (lock_timeout "
            f"{self.budget.lock_timeout}). Blocking: {listed}. Fix: {fix}then run the same "
            "alembic command again, or raise the budget with -x lock_timeout=... "
            "-x lock_retries=..."
        )


def retry_alter(
    conn: sa.Connection,
    what: str,
    table_oids: tuple[int, ...],
    budget: Tunables,
    statement: sql.Composable,
    *,
    every_lock: bool = True,
) -> None:
    """One short ALTER (a catalog change, or a lock-then-scan that lets writers through),
    each attempt bounded by ``lock_timeout``. An ALTER cut short by the timeout changed
    nothing, so there is nothing to wait out before the next attempt."""
    retry = LockRetry(
        conn, what, table_oids, budget, every_lock=every_lock, snapshots=False, prewait=False
    )
    retry.run(lambda: execute(statement))
