"""connections: the fleet's pools against what the server allows, and who is connected now.

Problem: every instance of the service opens up to its pool's maximum; when ``instances x
maximum`` exceeds what the server allows (``max_connections`` minus the reserved slots), the
last instances to connect get "too many clients" errors under load — and a fleet that already
holds most of the slots has none left for a deploy, which briefly runs old and new instances
side by side. Evidence: the pool the application declares (``--pool-max N``, or SQLAlchemy's
``--pool-size`` + ``--max-overflow``, else dbtune's own recommendation for this machine's
CPUs) times ``--instances``, against the server's settings; and ``pg_stat_activity`` grouped
by application name and client address, reported beside it. Fix: the setting of the pool in
use, lowered so the fleet fits (``create_engine(pool_size=..., max_overflow=...)`` for
SQLAlchemy, ``max_size`` for psycopg_pool or asyncpg, ``DBTUNE_POOL_MAX`` for dbtune's
factories), or more ``max_connections``, or PgBouncer in front.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding
from dbtune.pool.sizing import pool_size

ID = "connections"
BUSY_SHARE = 0.9  # connected now, of the budget: a deploy's second set of pools will not fit


def _declared(options: DoctorOptions) -> tuple[int, str]:
    """The per-instance maximum, and what declared it."""
    if options.pool_max is not None:
        return options.pool_max, f"pool max {options.pool_max} (--pool-max)"
    if options.pool_size is not None or options.max_overflow is not None:
        size, overflow = options.pool_size or 5, options.max_overflow or 10  # SQLAlchemy's
        return size + overflow, f"SQLAlchemy pool_size {size} + max_overflow {overflow}"
    recommended = pool_size(instances=options.instances)
    return recommended.max_size, f"pool max {recommended.max_size} ({recommended.source})"


def _fix(options: DoctorOptions, per_instance: int) -> str:
    if options.pool_size is not None or options.max_overflow is not None:
        size = min(options.pool_size or 5, per_instance)
        return (
            f"create_engine(..., pool_size={size}, max_overflow={per_instance - size}) in each "
            "instance, raise max_connections, or put PgBouncer (transaction mode) in front"
        )
    if options.pool_max is not None:
        return (
            f"the pool's max_size={per_instance} (psycopg_pool ConnectionPool / "
            "asyncpg.create_pool), raise max_connections, or put PgBouncer in front"
        )
    return (
        f"set DBTUNE_POOL_MAX to at most {per_instance}, raise max_connections, or put "
        "PgBouncer (transaction mode) in front"
    )


def _connected(catalog: Catalog) -> str:
    clients = catalog.health.clients
    if not clients:
        return "no other client is connected now"
    total = sum(c.connections for c in clients)
    top = ", ".join(
        f"{c.application} from {c.client}: {c.connections} ({c.idle} idle)" for c in clients[:5]
    )
    return f"connected now: {total} ({top})"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    max_connections, reserved = catalog.budget.max_connections, catalog.budget.reserved
    budget = max_connections - reserved
    per_instance, declared = _declared(options)
    fleet = options.instances * per_instance
    connected = sum(c.connections for c in catalog.health.clients)
    findings = []
    if fleet > budget:
        findings.append(
            Finding(
                ID,
                "max_connections",
                f"{options.instances} instance(s) x {declared} = {fleet} connections, over "
                f"max_connections {max_connections} - {reserved} reserved = {budget}; "
                + _connected(catalog),
                _fix(options, max(1, budget // options.instances)),
                severity="high",
            )
        )
    elif connected >= BUSY_SHARE * budget:
        findings.append(
            Finding(
                ID,
                "max_connections",
                f"{connected} of the {budget} connections the server allows are taken: a deploy "
                f"that starts new instances before stopping old ones will not fit; "
                + _connected(catalog),
                _fix(options, max(1, (budget - connected) // max(options.instances, 1))),
                severity="high",
            )
        )
    return findings
