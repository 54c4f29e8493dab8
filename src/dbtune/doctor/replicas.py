"""``doctor --replica DSN``: the index scans of streaming replicas.

Statistics are per server: an index the primary never scans may serve every read sent to a
replica. Each replica is checked to be a physical standby of the same cluster (in recovery,
the same ``system_identifier``), so its index OIDs are the primary's; its ``idx_scan`` counts
are then added to the primary's before ``unused_indexes`` judges. Each node's statistics age
is reported: a replica whose counters were reset yesterday has not seen a monthly job.
"""

from __future__ import annotations

from dbtune.catalog import psycopg_runner
from dbtune.catalog.health import NODE, REPLICA_SCANS, NodeScans
from dbtune.db import connect
from dbtune.db.dsn import describe
from dbtune.errors import UsageError


def _node(url: str) -> tuple[bool, int, str, float]:
    with connect(url, autocommit=True) as conn:
        row = psycopg_runner(conn)(NODE, {})[0]
    return bool(row[0]), int(row[1]), str(row[2]), float(row[3] or 0)


def read_replicas(primary_url: str, urls: tuple[str, ...]) -> tuple[NodeScans, ...]:
    """The index scans of each replica in ``urls``, after checking it replicates the primary."""
    if not urls:
        return ()
    _, system, _, _ = _node(primary_url)
    nodes = []
    for url in urls:
        in_recovery, replica_system, since, age = _node(url)
        if not in_recovery or replica_system != system:
            raise UsageError(
                f"--replica {describe(url)} is not a streaming replica of {describe(primary_url)}"
                f" ({'not in recovery' if not in_recovery else 'another cluster'}): its index "
                "statistics cannot be matched to the primary's indexes"
            )
        with connect(url, autocommit=True) as conn:
            scans = {int(o): int(n) for o, n in psycopg_runner(conn)(REPLICA_SCANS, {})}
        nodes.append(NodeScans(describe(url), scans, since, age))
    return tuple(nodes)
