"""How many CPUs this process may really use.

``os.cpu_count()`` counts the machine's CPUs, not the ones a container or ``taskset`` leaves to
this process; a pool sized from it is too large exactly where it hurts. For now the scheduler
affinity is the limit; the cgroup quota joins it in the pool work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dbtune.errors import UsageError

CPUS_ENV = "DBTUNE_CPUS"


@dataclass(frozen=True, slots=True)
class CpuCount:
    """A CPU count and where it came from, e.g. ``"affinity: 2"`` or ``"DBTUNE_CPUS=4"``."""

    count: int
    source: str


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable_cpus() -> CpuCount:
    """The CPUs this process may run on, at least 1; ``DBTUNE_CPUS`` overrides."""
    raw = os.environ.get(CPUS_ENV)
    if raw is not None and raw.strip():
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise UsageError(
                f"{CPUS_ENV}={raw!r} is not a positive integer; unset it or give e.g. 4"
            )
        return CpuCount(value, f"{CPUS_ENV}={value}")
    count = max(1, _affinity())
    return CpuCount(count, f"affinity: {count}")
