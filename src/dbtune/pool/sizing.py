"""Pool size from CPU count and the server's connection budget: pure maths, no IO.

A PostgreSQL backend does useful work only while it has a core; past about two connections per
core plus a few for those waiting on disk or network, more connections add queueing and context
switches, not throughput (measured here: ``2 x CPUs + 5`` was the best of 4..64 on 2 cores).
The server, for its part, has ``max_connections`` for all of a service's processes:
``instances x max_size`` must fit in it, less the connections kept for superusers and operators.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbtune.errors import UsageError
from dbtune.pool.cpus import usable_cpus

if TYPE_CHECKING:
    from dbtune.pool.budget import ServerBudget

CONNECTIONS_PER_CPU = 2
SPARE_CONNECTIONS = 5
DEFAULT_RESERVED = 3
MIN_ENV = "DBTUNE_POOL_MIN"
MAX_ENV = "DBTUNE_POOL_MAX"

log = logging.getLogger("dbtune.pool")


@dataclass(frozen=True, slots=True)
class PoolSize:
    """A recommended pool size, the CPU count it came from, and why it was lowered, if it was."""

    min_size: int
    max_size: int
    cpus: int
    source: str
    clamped_by: str | None = None


def _env_size(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{name}={raw!r} is not a positive integer; unset it or give e.g. 10")
    return value


def _overrides(cpus: int, min_size: int, max_size: int, source: str) -> tuple[int, int, str]:
    """``DBTUNE_POOL_MIN`` / ``DBTUNE_POOL_MAX`` over the computed sizes.

    An explicit max alone is a cap (doctor's own advice): the computed min follows it down.
    """
    env_min, env_max = _env_size(MIN_ENV), _env_size(MAX_ENV)
    if env_min is not None:
        min_size, source = env_min, f"{source}; {MIN_ENV}={env_min}"
    if env_max is not None:
        max_size, source = env_max, f"{source}; {MAX_ENV}={env_max}"
        if env_min is None and min_size > max_size:
            log.warning(
                "pool min lowered from %d to %s=%d (below the CPU count %d)",
                min_size,
                MAX_ENV,
                max_size,
                cpus,
            )
            min_size = max_size
    if min_size > max_size:
        raise UsageError(
            f"pool min {min_size} is above max {max_size} "
            f"({MIN_ENV}={os.environ.get(MIN_ENV)!r}, {MAX_ENV}={os.environ.get(MAX_ENV)!r})"
        )
    return min_size, max_size, source


def pool_size(
    cpus: int | None = None,
    *,
    instances: int = 1,
    server_max_connections: int | None = None,
    reserved: int = DEFAULT_RESERVED,
) -> PoolSize:
    """``min = cpus``, ``max = 2 x cpus + 5``, lowered so ``instances x max`` fits the server.

    ``cpus`` defaults to :func:`dbtune.usable_cpus`. ``DBTUNE_POOL_MIN`` / ``DBTUNE_POOL_MAX``
    override the computed sizes (the server budget still applies). ``reserved`` connections of
    ``server_max_connections`` are left for superusers, migrations and operators.
    """
    if cpus is None:
        found = usable_cpus()
        cpus, source = found.count, found.source
    else:
        source = f"given: {cpus}"
    if cpus < 1:
        raise UsageError(f"cpus must be at least 1, got {cpus}")
    if instances < 1:
        raise UsageError(f"instances must be at least 1, got {instances}")
    min_size = cpus
    max_size = CONNECTIONS_PER_CPU * cpus + SPARE_CONNECTIONS
    min_size, max_size, source = _overrides(cpus, min_size, max_size, source)

    clamped_by = None
    if server_max_connections is not None:
        budget = server_max_connections - reserved
        if budget < instances:
            raise UsageError(
                f"the server's max_connections {server_max_connections} minus {reserved} "
                f"reserved leaves {budget} connections for {instances} instance(s): raise "
                "max_connections or put PgBouncer in front"
            )
        if instances * max_size > budget:
            fitted = budget // instances
            clamped_by = (
                f"max_connections {server_max_connections} - {reserved} reserved = {budget} "
                f"shared by {instances} instance(s): max lowered from {max_size} to {fitted}"
            )
            log.warning("pool size clamped: %s", clamped_by)
            max_size = fitted
            min_size = min(min_size, max_size)
    return PoolSize(min_size, max_size, cpus, source, clamped_by)


def engine_kwargs(size: PoolSize | None = None) -> dict[str, int | bool]:
    """SQLAlchemy ``create_engine`` keywords for ``size`` (default :func:`pool_size`), for a
    library that builds its own engine from a URL: ``pool_size`` kept open, ``max_overflow``
    more under load (up to ``max_size`` in all), and ``pool_pre_ping``, which tests each
    connection before lending it and so recovers after a server restart."""
    size = size or pool_size()
    return {
        "pool_size": size.min_size,
        "max_overflow": size.max_size - size.min_size,
        "pool_pre_ping": True,
    }


def instances_check(instances: int, budget: ServerBudget | None) -> dict[str, object]:
    """The recommended size for ``instances`` processes and whether they all fit the
    server's budget (when one was read): what ``dbtune pool`` prints."""
    size = pool_size(
        instances=instances,
        server_max_connections=budget.max_connections if budget else None,
        reserved=budget.reserved if budget else DEFAULT_RESERVED,
    )
    total = instances * size.max_size
    facts: dict[str, object] = {
        "cpus": size.cpus,
        "cpu_source": size.source,
        "min_size": size.min_size,
        "max_size": size.max_size,
        "instances": instances,
        "fleet_max_connections": total,  # the key users' scripts read: kept
        "clamped_by": size.clamped_by,
    }
    if budget:
        facts.update(
            server_max_connections=budget.max_connections,
            server_reserved_connections=budget.reserved,
            server_current_connections=budget.current,
            fits=total <= budget.available,
        )
    return facts
