"""The catalog facts doctor's health checks read beyond the indexes and foreign keys: every table,
every column, sequences, constraints left NOT VALID, the database's transaction-ID age and who
is connected. Read once per run with the rest of the catalog
(:func:`dbtune.catalog.read_catalog`), in the same transaction; the checks are pure functions
of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbtune.catalog.columns import Column, read_columns
from dbtune.catalog.query import CatalogQuery, Runner
from dbtune.catalog.tables import Table, read_tables

_SEQUENCES = CatalogQuery(
    """
SELECT c.oid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqmax,
       CASE WHEN c.relkind = 'S' AND has_sequence_privilege(c.oid, 'SELECT')
            AND NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = c.oid
                            AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
            THEN pg_sequence_last_value(c.oid) END,
       dep.refobjid, dep.refobjsubid
FROM pg_sequence AS s
JOIN pg_class AS c ON c.oid = s.seqrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_depend AS dep ON dep.objid = c.oid AND dep.classid = 'pg_class'::regclass
     AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  AND c.relkind = 'S'
"""
)

_CONSTRAINTS = CatalogQuery(
    """
SELECT k.oid, k.conname, k.conrelid, k.contype, k.convalidated,
       CASE WHEN NOT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.relation = k.conrelid
                             AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
            THEN pg_get_constraintdef(k.oid) ELSE '(not read: the table is locked)' END
FROM pg_constraint AS k JOIN pg_namespace AS n ON n.oid = k.connamespace
WHERE k.conrelid <> 0 AND k.contype IN ('c', 'f') AND NOT k.convalidated
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
"""
)

REPLICA_SCANS = CatalogQuery("SELECT indexrelid, idx_scan FROM pg_stat_user_indexes")

NODE = CatalogQuery(
    """
SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system()),
       coalesce(to_char(stats_reset, 'YYYY-MM-DD HH24:MI TZ'),
                'the server started collecting them'),
       extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))
FROM pg_stat_database WHERE datname = current_database()
"""
)

_DATABASE = CatalogQuery(
    "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()"
)

_CONNECTIONS = CatalogQuery(
    """
SELECT coalesce(nullif(application_name, ''), '(no application_name)'),
       coalesce(host(client_addr), 'local socket'), count(*),
       count(*) FILTER (WHERE state = 'idle')
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2 ORDER BY 3 DESC
"""
)


@dataclass(frozen=True, slots=True)
class SequenceFacts:
    oid: int
    schema: str
    name: str
    data_type: str
    max_value: int
    last_value: int | None  # None: never used
    table_oid: int | None  # the column it feeds (serial or identity)
    attnum: int | None


@dataclass(frozen=True, slots=True)
class LooseConstraint:
    """A CHECK or foreign key left NOT VALID: new rows are checked, old ones never were."""

    oid: int
    name: str
    table_oid: int
    contype: str
    definition: str


@dataclass(frozen=True, slots=True)
class ClientGroup:
    application: str
    client: str
    connections: int
    idle: int


@dataclass(frozen=True, slots=True)
class NodeScans:
    """A streaming replica's own index statistics (its scans are not on the primary)."""

    target: str
    scans: Mapping[int, int]  # index OID (the same on a physical replica) -> idx_scan
    stats_since: str
    stats_age_s: float


@dataclass(frozen=True, slots=True)
class Health:
    tables: Mapping[int, Table] = field(default_factory=dict)
    columns: Mapping[tuple[int, int], Column] = field(default_factory=dict)
    sequences: tuple[SequenceFacts, ...] = ()
    loose_constraints: tuple[LooseConstraint, ...] = ()
    database_xid_age: int = 0
    clients: tuple[ClientGroup, ...] = ()
    replicas: tuple[NodeScans, ...] = ()

    def replica_scans(self, index_oid: int) -> int:
        return sum(node.scans.get(index_oid, 0) for node in self.replicas)

    def column(self, table_oid: int, attnum: int) -> Column | None:
        return self.columns.get((table_oid, attnum))

    def table_name(self, oid: int) -> tuple[str, str] | None:
        table = self.tables.get(oid)
        return (table.schema, table.name) if table else None


def _opt_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def read_health(run: Runner) -> Health:
    """Every table, column, sequence, loose constraint and foreign key of the user schemas."""
    tables = read_tables(run, [], every=True)
    columns = read_columns(run, [], every=True)
    sequences = tuple(
        SequenceFacts(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), _opt_int(r[5]),
                      _opt_int(r[6]), _opt_int(r[7]))
        for r in run(_SEQUENCES, {})
    )  # fmt: skip
    loose = tuple(
        LooseConstraint(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[5]))
        for r in run(_CONSTRAINTS, {})
    )
    age = run(_DATABASE, {})
    clients = tuple(
        ClientGroup(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in run(_CONNECTIONS, {})
    )
    return Health(tables, columns, sequences, loose, int(age[0][0]) if age else 0, clients)
