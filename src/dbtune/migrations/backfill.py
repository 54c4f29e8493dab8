"""Backfills in small committed batches, resumable after a crash, that back off under pressure.

One ``UPDATE`` over a big table holds its row locks (and a snapshot that stops VACUUM) until it
commits, makes replicas fall behind, and if it dies, all of it is lost. :func:`backfill` walks the
table in key order instead (keyset pagination on the primary key: each batch is found through
the key's index, however far along it is), one transaction per batch under
``statement_timeout``. Each batch writes its progress in the same statement as its UPDATE, into
a small table of its own (``dbtune_backfill_progress``, in the target table's schema), so after
a crash the next run starts at the first batch that did not commit, and no row is updated twice
(an ``x = x + 1`` backfill is safe). Before each batch it backs off while a replica's replay lag
passes ``max_lag_s`` or sessions are waiting for locks. A terminal gets a progress bar.

A batch holds the locks of the rows it updates until it commits, so a writer that wants one of
them waits as long as the batch takes — and a fixed row count takes longer the wider the rows
and the busier the machine (10,000 rows stalled a writer 0.8-2.6 s). So a batch is sized by
time: ``max_batch_s`` (0.2 s by default) is how long one may take, the size follows from the
last batch's keys walked per second (at most doubling, at once smaller after a slow one,
halved while sessions wait for locks), ``batch_size`` is its ceiling (GitLab's batched
background migrations work the same way). ``max_batch_s=None`` keeps every batch at
``batch_size`` rows, as the offline SQL does.

Rows inserted behind the walk are not its business: give new rows their value another way
first (a column DEFAULT, a trigger, the application) — :func:`add_column_online` sets the
default before it backfills.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.backfill_job import Backfill
from dbtune.migrations.catalog import ResolvedTable, columns, estimated_rows, primary_key
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.statements import text as statement_text
from dbtune.migrations.tunables import Tunables, duration_s
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import check_identifier, check_identifiers
from dbtune.sql.text import SqlTextError, check_expression, check_set_clause

log = logging.getLogger("dbtune.migrations")

PROGRESS_TABLE = "dbtune_backfill_progress"
THROTTLE_MAX_S = 60.0  # after this long backing off, a batch goes ahead anyway (and says so)
STATEMENT_TIMEOUT = "30s"  # per batch
MAX_LAG_S = 10.0  # a replica's replay lag that makes the next batch wait
MAX_BATCH_S = 0.2
"""How long one batch may hold its rows' locks: a writer that wants one of them waits for
the batch. The batch size follows from it (see :class:`BatchSizer`), ``batch_size`` its
ceiling."""
FIRST_BATCH = 100  # rows: a first batch cheap enough on any table, then measured up
MIN_BATCH = 10


def set_list(values: str | Mapping[str, str]) -> str:
    """``{"total": "price * qty"}`` -> ``total = (price * qty)``; a string is a SET list."""
    if isinstance(values, str):
        clause = values
    else:
        parts = []
        for column, expression in values.items():
            check_identifier(column)
            parts.append(f"{ident(column).as_string()} = ({expression})")
        clause = ", ".join(parts)
    try:
        return check_set_clause(clause)
    except SqlTextError as exc:
        raise MigrationError(f"backfill: the SET list {clause!r} is refused: {exc}") from None


@shown_by_alembic
def backfill(
    table_name: str,
    set_sql: str | Mapping[str, str],
    *,
    where: str | None = None,
    schema: str | None = None,
    key: Sequence[str] | None = None,
    batch_size: int = 1000,
    pause_s: float = 0.0,
    statement_timeout: str = STATEMENT_TIMEOUT,
    max_lag_s: float = MAX_LAG_S,
    name: str | None = None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
    max_batch_s: float | None = MAX_BATCH_S,
) -> None:
    """``UPDATE table SET set_sql [WHERE where]`` in batches (see the module docstring).

    ``set_sql`` is a SET list (``"total = price * qty"``) or a mapping of column to expression;
    ``where`` restricts the rows (and lets a re-run skip rows already done); ``key`` is the
    walk's key (default: the primary key); ``name`` identifies the job's progress (default:
    derived from the table, SET list and filter).
    """
    check_identifiers(table_name, *(key or ()), schema)
    if batch_size < 1:
        raise MigrationError(f"backfill: batch_size {batch_size} must be at least 1")
    if max_batch_s is not None and not max_batch_s > 0:
        raise MigrationError(f"backfill: max_batch_s {max_batch_s} must be above 0 (or None)")
    duration_s(statement_timeout, "statement_timeout")
    if where is not None:
        try:
            check_expression(where)
        except SqlTextError as exc:
            raise MigrationError(f"backfill: where={where!r} is refused: {exc}") from None
    assignments = set_list(set_sql)
    digest = hashlib.sha1(f"{schema}.{table_name}|{assignments}|{where}".encode()).hexdigest()
    job = Backfill(table_name, schema, assignments, where, tuple(key or ()), batch_size,
                   pause_s, statement_timeout, max_lag_s,
                   name or f"{table_name} {digest[:12]}", max_batch_s)  # fmt: skip
    run_operation(_Backfill(job), lock_timeout=lock_timeout, lock_retries=lock_retries)


@dataclass(frozen=True, slots=True)
class _Backfill:
    job: Backfill

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        table = require_table(conn, self.job.table, self.job.schema)
        run_backfill(conn, self.job, table, budget.lock_timeout)

    def as_sql(self, budget: Tunables) -> None:
        offline.backfill(self.job)


def _walk_key(conn: sa.Connection, job: Backfill, table: ResolvedTable) -> list[tuple[str, str]]:
    if job.key:
        known = columns(conn, table)
        missing = [k for k in job.key if k not in known]
        if missing:
            raise MigrationError(
                f"backfill: key column(s) {', '.join(missing)} not in {table.display}"
            )
        nullable = [k for k in job.key if not known[k].not_null]
        if nullable:
            raise MigrationError(
                f"backfill: key column(s) {', '.join(nullable)} of {table.display} allow NULL, "
                "which a keyset walk would skip; name NOT NULL, unique, indexed columns"
            )
        return [(k, known[k].type_sql) for k in job.key]
    found = primary_key(conn, table)
    if not found:
        raise MigrationError(
            f"backfill: {table.display} has no primary key to walk; pass key=[...] naming "
            "unique, indexed columns"
        )
    return found


@dataclass(frozen=True, slots=True)
class _Walk:
    """One backfill's walk over its key: where it is, the next batch's bound, the batch."""

    conn: sa.Connection
    job: Backfill
    table: ResolvedTable
    keys: list[tuple[str, str]]  # (column, type) of the walk's key

    @property
    def progress(self) -> sql.Composable:
        return ident(self.table.schema, PROGRESS_TABLE)

    @property
    def names(self) -> sql.Composable:
        return sql.SQL(", ").join(ident(k) for k, _ in self.keys)

    def _bound(self, values: Sequence[str]) -> sql.Composable:
        return sql.SQL("({})").format(
            sql.SQL(", ").join(
                sql.SQL("CAST({} AS {})").format(sql.Literal(v), sql.SQL(t))
                for v, (_, t) in zip(values, self.keys, strict=True)
            )
        )

    def _key_at(self, where: sql.Composable, offset: int) -> tuple[str, ...] | None:
        as_text = sql.SQL(", ").join(sql.SQL("{}::text").format(ident(k)) for k, _ in self.keys)
        query = sql.SQL("SELECT /* dbtune */ {} FROM {} {} ORDER BY {} OFFSET {} LIMIT 1").format(
            as_text, self.table.identifier, where, self.names, sql.Literal(offset)
        )
        row = self.conn.execute(statement_text(query)).first()
        return tuple(str(v) for v in row) if row is not None else None

    def start(self) -> tuple[tuple[str, ...] | None, int]:
        """Where the walk begins (where a killed run stopped), and the rows done so far."""
        self.conn.execute(
            sa.text("SELECT set_config('statement_timeout', :t, false)"),
            {"t": self.job.statement_timeout},
        )
        self.conn.execute(statement_text(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (job text PRIMARY KEY, next_key text[] NOT NULL, "
            "rows_done bigint NOT NULL, updated_at timestamptz NOT NULL)"
        ).format(self.progress)))  # fmt: skip
        saved = self.conn.execute(
            statement_text(
                sql.SQL("SELECT /* dbtune */ next_key, rows_done FROM {} WHERE job = {}").format(
                    self.progress, sql.Literal(self.job.name)
                )
            )
        ).first()
        if saved is None:
            return self._key_at(sql.SQL(""), 0), 0
        log.info("backfill %s: resuming at key %s (%d rows done)", self.job.name, saved[0],
                 saved[1])  # fmt: skip
        return tuple(saved[0]), int(saved[1])

    def next_bound(self, low: Sequence[str], size: int) -> tuple[str, ...] | None:
        """The key ``size`` rows past ``low``; None: the rest is the last batch."""
        where = sql.SQL("WHERE ({}) >= {}").format(self.names, self._bound(low))
        return self._key_at(where, size)

    def batch(self, low: Sequence[str], high: Sequence[str] | None) -> int:
        """One batch and its progress, in one statement: they commit together or not at all."""
        job, progress = self.job, self.progress
        batch = sql.SQL("UPDATE {} SET {} WHERE ({}) >= {}{}{} RETURNING 1").format(
            self.table.identifier, sql.SQL(job.assignments), self.names, self._bound(low),
            sql.SQL(" AND ({}) < {}").format(self.names, self._bound(high))
            if high else sql.SQL(""),
            job.where_sql(),
        )  # fmt: skip
        if high is None:  # the last batch: its progress row goes with it
            record = sql.SQL("DELETE FROM {} WHERE job = {}").format(
                progress, sql.Literal(job.name)
            )
        else:
            record = sql.SQL(
                "INSERT INTO {p} (job, next_key, rows_done, updated_at) "
                "VALUES ({job}, {next}, (SELECT count(*) FROM batch), now()) "
                "ON CONFLICT (job) DO UPDATE SET next_key = excluded.next_key, "
                "rows_done = {p}.rows_done + excluded.rows_done, updated_at = now()"
            ).format(p=progress, job=sql.Literal(job.name), next=sql.Literal(list(high)))
        step = sql.SQL("WITH /* dbtune */ batch AS ({}), record AS ({}) SELECT count(*) FROM batch")
        return int(self.conn.execute(statement_text(step.format(batch, record))).scalar_one())


@dataclass
class BatchSizer:
    """The next batch's size, from how long the last one took (see the module docstring)."""

    ceiling: int
    max_batch_s: float | None
    size: int = 0

    def __post_init__(self) -> None:
        self.size = self.ceiling if self.max_batch_s is None else min(FIRST_BATCH, self.ceiling)

    def took(self, rows: int, seconds: float, waiting: bool = False) -> None:
        """The last batch walked ``rows`` keys in ``seconds`` (``waiting``: sessions were
        waiting for locks before it). Keys walked, not rows updated: under a ``where`` that
        few rows meet, a batch of 5,000 keys updating 3 rows in 3 ms was read as 1,000 rows
        per second, and the next batch cut to 167 keys (the shop test: 549 batches where 130 do)."""
        if self.max_batch_s is None:
            return
        if rows > 0 and seconds > 0:
            fitting = int(rows * 0.8 * self.max_batch_s / seconds)  # 20 % headroom
            wanted = min(fitting, self.size * 2)  # grow gently, shrink at once
        else:
            wanted = self.size * 2
        if waiting:
            wanted = min(wanted, self.size // 2)
        self.size = max(MIN_BATCH, min(self.ceiling, wanted))


def run_backfill(
    conn: sa.Connection, job: Backfill, table: ResolvedTable, lock_timeout: str
) -> None:
    """The batches, in autocommit (each statement its own transaction)."""
    walk = _Walk(conn, job, table, _walk_key(conn, job, table))
    sizer = BatchSizer(job.batch_size, job.max_batch_s)
    with session_settings(conn, lock_timeout):
        low, done = walk.start()
        with _progress_bar(job.name, estimated_rows(conn, table)) as advance:
            while low is not None:
                waited = _throttle(conn, job)
                size = sizer.size
                high = walk.next_bound(low, size)
                started = time.perf_counter()
                rows = walk.batch(low, high)
                seconds = time.perf_counter() - started
                sizer.took(size, seconds, waiting=waited)  # keys walked, not rows updated
                log.debug("backfill %s: %d rows in %.3f s; next batch %d rows", job.name,
                          rows, seconds, sizer.size)  # fmt: skip
                done += rows
                advance(size)
                low = high
                if job.pause_s and low is not None:
                    time.sleep(job.pause_s)
        _drop_progress_table_when_empty(conn, walk.progress)
    log.info("backfill %s: %d rows updated on %s", job.name, done, table.display)


_PRESSURE = sa.text(
    """
    SELECT coalesce((SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication), 0),
           (SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND pid <> pg_backend_pid())
    """
)


def _throttle(conn: sa.Connection, job: Backfill) -> bool:
    """Wait (doubling, up to a minute in all) while a replica lags or sessions wait for locks;
    True when it had to."""
    waited, delay = 0.0, 0.05
    while waited < THROTTLE_MAX_S:
        lag, waiting = conn.execute(_PRESSURE).one()
        if float(lag) <= job.max_lag_s and int(waiting) == 0:
            return waited > 0
        reason = (
            f"replica replay lag {float(lag):.1f} s" if float(lag) > job.max_lag_s
            else f"{int(waiting)} session(s) waiting for locks"
        )  # fmt: skip
        log.info("backfill %s: backing off %.2f s (%s)", job.name, delay, reason)
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 5.0)
    log.warning("backfill %s: still under pressure after %.0f s; going on", job.name, waited)
    return True


def _drop_progress_table_when_empty(conn: sa.Connection, progress: sql.Composable) -> None:
    """Leave nothing behind once no job is half-done (another job's row keeps the table)."""
    left = conn.execute(
        statement_text(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(progress))
    ).scalar()
    if not left:
        conn.execute(statement_text(sql.SQL("DROP TABLE IF EXISTS {}").format(progress)))


@contextmanager
def _progress_bar(name: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty():
        yield lambda rows: None
        return
    from rich.progress import Progress  # only a terminal pays for the import

    with Progress(transient=True) as bar:
        task = bar.add_task(f"backfill {name}", total=total)
        yield lambda rows: bar.advance(task, rows)
