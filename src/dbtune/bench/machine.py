"""The machine line every generated benchmark report carries."""

from __future__ import annotations

import platform

import psutil

from dbtune.pool.cpus import usable_cpus


def describe(server_version: int) -> str:
    """``2 CPUs (affinity: 2), 24 GiB, Linux-...; PostgreSQL 18.6``."""
    return (
        f"{psutil.cpu_count()} CPUs ({usable_cpus().source}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}; "
        f"PostgreSQL {server_version // 10000}.{server_version % 10000}"
    )
