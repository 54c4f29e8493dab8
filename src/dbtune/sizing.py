"""Pool size from CPU count: pure maths, no IO, tested without a server.

A PostgreSQL backend does useful work only while it has a core; past about two connections per
core plus a few for those waiting on disk or network, more connections add queueing and context
switches, not throughput (measured here: ``2 x CPUs + 5`` was the best of 4..64 on 2 cores).
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtune.cpus import usable_cpus
from dbtune.errors import UsageError

CONNECTIONS_PER_CPU = 2
SPARE_CONNECTIONS = 5


@dataclass(frozen=True, slots=True)
class PoolSize:
    """A recommended pool size and the CPU count it was derived from."""

    min_size: int
    max_size: int
    cpus: int
    source: str


def size_for(cpus: int, source: str = "given") -> PoolSize:
    """``min = cpus``, ``max = 2 x cpus + 5``."""
    if cpus < 1:
        raise UsageError(f"cpus must be at least 1, got {cpus}")
    return PoolSize(
        min_size=cpus,
        max_size=CONNECTIONS_PER_CPU * cpus + SPARE_CONNECTIONS,
        cpus=cpus,
        source=source,
    )


def pool_size(cpus: int | None = None) -> PoolSize:
    """The pool size for ``cpus`` CPUs, or for the CPUs this process may use when None."""
    if cpus is not None:
        return size_for(cpus, f"given: {cpus}")
    found = usable_cpus()
    return size_for(found.count, found.source)
