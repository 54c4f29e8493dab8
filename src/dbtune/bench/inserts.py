"""Single-row insert throughput into each index variant, interleaved in rounds."""

from __future__ import annotations

import statistics
import time

from dbtune.bench.latency import TABLES
from dbtune.db import connect

INSERT = (
    "INSERT /* dbtune */ INTO {} (user_id, role, content, message_type) "
    "VALUES (%s, 'user', 'a message of ordinary length, for the insert benchmark', 'text')"
)


def insert_rates(url: str, *, rounds: int, seconds: float) -> dict[str, float]:
    """Median inserts per second, each insert its own transaction, per variant."""
    rates: dict[str, list[float]] = {v: [] for v in TABLES}
    with connect(url, autocommit=True) as conn:
        for r in range(rounds):
            order = list(TABLES) if r % 2 == 0 else list(reversed(TABLES))
            for variant in order:
                query = INSERT.format(TABLES[variant])
                done, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds:
                    conn.execute(query, [1 + done % 100], prepare=True)
                    done += 1
                rates[variant].append(done / (time.perf_counter() - started))
    return {v: statistics.median(r) for v, r in rates.items()}
