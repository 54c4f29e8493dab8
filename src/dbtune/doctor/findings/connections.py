"""connections: max_connections against the pool recommendation times the instances.

Problem: every instance of the service opens up to its pool's ``max_size`` connections; when
``instances x max_size`` exceeds what the server allows (``max_connections`` minus the reserved
slots), the last instances to connect get "too many clients" errors under load. Evidence: the
pool size dbtune recommends for this machine's CPUs (:func:`dbtune.pool_size`), times
``--instances``, against the server's settings. Fix: lower the pools (``DBTUNE_POOL_MAX``),
raise ``max_connections``, or put PgBouncer in front.
"""

from __future__ import annotations

from dbtune.doctor import Connection, DoctorOptions, Finding
from dbtune.sizing import pool_size

ID = "connections"


def inspect(conn: Connection, options: DoctorOptions) -> list[Finding]:
    row = conn.execute(
        "SELECT current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int"
        " + coalesce(current_setting('reserved_connections', true)::int, 0)"
    ).fetchone()
    assert row is not None
    max_connections, reserved = int(row[0]), int(row[1])
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
        )
    ]
