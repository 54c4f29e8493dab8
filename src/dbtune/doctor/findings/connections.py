"""connections: max_connections against the pool recommendation times the instances.

Problem: every instance of the service opens up to its pool's ``max_size`` connections; when
``instances x max_size`` exceeds what the server allows (``max_connections`` minus the reserved
slots), the last instances to connect get "too many clients" errors under load. Evidence: the
pool size dbtune recommends for this machine's CPUs (:func:`dbtune.pool_size`), times
``--instances``, against the server's settings. Fix: lower the pools (``DBTUNE_POOL_MAX``),
raise ``max_connections``, or put PgBouncer in front.
"""

from __future__ import annotations

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sizing import pool_size

ID = "connections"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    max_connections, reserved = catalog.budget.max_connections, catalog.budget.reserved
    size = pool_size(instances=options.instances)
    fleet = options.instances * size.max_size
    budget = max_connections - reserved
    if fleet <= budget:
        return []
    return [
        Finding(
            ID,
            "max_connections",
            f"{options.instances} instance(s) x pool max {size.max_size} ({size.source}) = {fleet} "
            f"connections, over max_connections {max_connections} - {reserved} reserved = {budget}",
            f"set DBTUNE_POOL_MAX to at most {max(1, budget // options.instances)}, raise "
            "max_connections, or put PgBouncer (transaction mode) in front",
            severity="high",
        )
    ]
