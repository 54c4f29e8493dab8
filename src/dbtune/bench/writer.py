"""A writer that writes one row at a time and times each write.

"Does this DDL block writers?" is answered by running it beside such a writer: a blocked writer
shows up as one write whose latency is about as long as the DDL itself. The default writes are
inserts of messages into the reference schema; any other schema passes its own ``step``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from dbtune.db import connect
from dbtune.db.dsn import APPLICATION_NAME

INSERT = (
    "INSERT /* dbtune */ INTO conversation_history (user_id, role, content) "
    "VALUES (%s, 'user', 'written while an index builds')"
)


@dataclass(frozen=True, slots=True)
class WriterStats:
    inserts: int
    failures: int
    worst_s: float
    p99_s: float
    median_s: float


Step = Callable[["psycopg.Connection[Any]", int], None]


class InsertWriter(threading.Thread):
    """Runs ``step(conn, n)`` for n = 0, 1, ..., each in its own transaction, until stopped
    (by default: inserts into conversation_history)."""

    def __init__(
        self, url: str, user_id: int = 1, pause_s: float = 0.002, step: Step | None = None
    ) -> None:
        super().__init__(daemon=True, name="dbtune-writer")
        self.url = url
        self.user_id = user_id
        self.pause_s = pause_s
        self.step: Step = step or self.insert_message
        self.stop_event = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def insert_message(self, conn: psycopg.Connection[Any], number: int) -> None:
        conn.execute(INSERT, [self.user_id])

    def run(self) -> None:
        with connect(
            self.url, autocommit=True, application_name=f"{APPLICATION_NAME} writer"
        ) as conn:
            number = 0
            while not self.stop_event.is_set():
                started = time.perf_counter()
                try:
                    self.step(conn, number)
                except psycopg.Error as exc:
                    self.failures.append(str(exc).splitlines()[0])
                self.latencies.append(time.perf_counter() - started)
                number += 1
                time.sleep(self.pause_s)

    def stats(self) -> WriterStats:
        ordered = sorted(self.latencies) or [0.0]
        return WriterStats(
            inserts=len(self.latencies),
            failures=len(self.failures),
            worst_s=ordered[-1],
            p99_s=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            median_s=statistics.median(ordered),
        )


@contextmanager
def writing(url: str, settle_s: float = 0.3, step: Step | None = None) -> Iterator[InsertWriter]:
    """Run a writer around the ``with`` body, giving it ``settle_s`` before and after."""
    writer = InsertWriter(url, step=step)
    writer.start()
    time.sleep(settle_s)
    try:
        yield writer
    finally:
        time.sleep(settle_s)
        writer.stop_event.set()
        writer.join(30)
