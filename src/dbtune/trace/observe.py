"""One read of the server's state around a statement, on the migration's own connection.

Everything is read for the session's own backend and transaction: the locks it holds
(``pg_locks`` where ``pid = pg_backend_pid()``), the sequential scans and row changes of this
transaction (``pg_stat_xact_user_tables``), each relation's ``relfilenode`` (a new one is a
rewrite) and the constraints with their ``convalidated``. Comparing two reads tells what the
statement between them did. The queries run on the driver connection directly, so SQLAlchemy's
events (which the trace listens to) never see them. The driver is the one the migration runs
on — psycopg, or asyncpg behind SQLAlchemy's adapter — so the reads go through the DB-API
cursor both offer, and carry no client-side parameters (each driver spells those its own way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql

from dbtune.trace.record import Constraint, Lock, Relation, Scan

_SNAPSHOT = """
SELECT json_build_object(
  'relations', (
    SELECT coalesce(json_agg(json_build_array(
             c.oid, c.relfilenode, c.relkind, format('%I.%I', n.nspname, c.relname),
             coalesce(i.indrelid, c.oid), n.nspname, c.relname)), '[]')
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_index AS i ON i.indexrelid = c.oid
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_(toast|temp)'),
  'locks', (
    SELECT coalesce(json_agg(json_build_array(l.relation::bigint, l.mode)), '[]')
    FROM pg_locks AS l
    WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted),
  'scans', (
    SELECT coalesce(json_agg(json_build_array(
             s.relid::bigint, s.seq_scan, s.seq_tup_read, s.n_tup_ins + s.n_tup_upd + s.n_tup_del)),
           '[]')
    FROM pg_stat_xact_user_tables AS s
    WHERE s.seq_scan > 0 OR s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0),
  'constraints', (
    SELECT coalesce(json_agg(json_build_array(
             k.oid, k.conname, k.conrelid, k.contype, k.convalidated)), '[]')
    FROM pg_constraint AS k
    JOIN pg_namespace AS n ON n.oid = k.connamespace
    WHERE k.conrelid <> 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')),
  'lock_timeout', current_setting('lock_timeout'),
  'statement_timeout', current_setting('statement_timeout'))
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    relations: dict[int, tuple[int, Relation]]  # oid -> (relfilenode, relation)
    locks: frozenset[tuple[int, str]]
    scans: dict[int, tuple[int, int, int]]  # oid -> (seq scans, rows read, rows changed)
    constraints: dict[int, tuple[str, int, str, bool]]  # oid -> (name, table, type, validated)
    lock_timeout: str
    statement_timeout: str

    def relation(self, oid: int) -> Relation | None:
        found = self.relations.get(oid)
        return found[1] if found else None


Driver = Any
"""A DB-API connection: psycopg's, or SQLAlchemy's adapter around asyncpg's."""


def failed(conn: Driver) -> bool:
    """Whether the connection's transaction has failed (nothing can be read until it ends).
    Only psycopg says so; on another driver a read in a failed transaction raises, and
    :func:`snapshot`'s caller takes that as "not observed"."""
    if isinstance(conn, psycopg.Connection):
        return conn.info.transaction_status == pq.TransactionStatus.INERROR
    return False


def _rows(conn: Driver, query: str) -> list[Any]:
    cursor = conn.cursor()
    try:
        cursor.execute(query)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def snapshot(conn: Driver) -> Snapshot:
    rows = _rows(conn, _SNAPSHOT)
    data = rows[0][0] if rows else {}
    if isinstance(data, str):
        data = json.loads(data)
    relations = {
        int(oid): (
            int(node),
            Relation(int(oid), str(name), str(kind), int(table), str(nsp), str(rel)),
        )
        for oid, node, kind, name, table, nsp, rel in data["relations"]
    }
    return Snapshot(
        relations,
        frozenset((int(oid), str(mode)) for oid, mode in data["locks"]),
        {int(oid): (int(s), int(r), int(w)) for oid, s, r, w in data["scans"]},
        {int(o): (str(n), int(t), str(k), bool(v)) for o, n, t, k, v in data["constraints"]},
        str(data["lock_timeout"]),
        str(data["statement_timeout"]),
    )


def resolve(conn: Driver, names: Sequence[tuple[str | None, str]]) -> list[int | None]:
    """The OIDs of ``(schema, name)`` relations as this session's search_path finds them."""
    if not names:
        return []
    spelled = [
        sql.Identifier(*([schema] if schema else []), name).as_string() for schema, name in names
    ]
    query = sql.SQL(
        "SELECT to_regclass(name)::oid FROM unnest({}::text[]) WITH ORDINALITY AS t(name, i) "
        "ORDER BY i"
    ).format(sql.Literal(spelled))
    return [int(r[0]) if r[0] is not None else None for r in _rows(conn, query.as_string())]


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened between two snapshots."""

    locks: tuple[Lock, ...]
    rewritten: tuple[Relation, ...]
    scanned: tuple[Scan, ...]
    created: tuple[Relation, ...]
    dropped: tuple[Relation, ...]
    constraints: tuple[Constraint, ...]


def changes(before: Snapshot, after: Snapshot, *, same_transaction: bool) -> Changes:
    """The difference ``after - before``; scans and locks only when both reads were in the
    statement's transaction (in autocommit they ended with it)."""

    def known(oid: int) -> Relation | None:
        return after.relation(oid) or before.relation(oid)

    locks = []
    if same_transaction:
        for oid, mode in sorted(after.locks - before.locks):  # by OID: creation order
            relation = known(oid)
            if relation is not None:
                locks.append(Lock(relation, mode))
    rewritten = [
        rel
        for oid, (node, rel) in after.relations.items()
        if oid in before.relations and node not in (0, before.relations[oid][0])
    ]
    scanned = []
    if same_transaction:
        for oid, (scans, rows, _) in after.scans.items():
            was = before.scans.get(oid, (0, 0, 0))
            relation = known(oid)
            if scans > was[0] and relation is not None:
                scanned.append(Scan(relation, scans - was[0], rows - was[1]))
    created = [(node, rel) for oid, (node, rel) in after.relations.items()
               if oid not in before.relations]  # fmt: skip
    dropped = [(node, rel) for oid, (node, rel) in before.relations.items()
               if oid not in after.relations]  # fmt: skip
    # ALTER COLUMN TYPE drops and creates the column's indexes again under the same name (a
    # new OID, and the old file kept when nothing had to be rebuilt): the same index, not a
    # new one; rewritten when its file changed.
    gone = {(rel.table_oid, rel.relname): node for node, rel in dropped}
    again = {(rel.table_oid, rel.relname) for _, rel in created} & set(gone)
    rewritten += [
        rel for node, rel in created
        if (rel.table_oid, rel.relname) in again and node != gone[(rel.table_oid, rel.relname)]
    ]  # fmt: skip
    return Changes(
        tuple(locks),
        tuple(rewritten),
        tuple(sorted(scanned, key=lambda c: c.relation.name)),
        tuple(rel for _, rel in created if (rel.table_oid, rel.relname) not in again),
        tuple(rel for _, rel in dropped if (rel.table_oid, rel.relname) not in again),
        tuple(_constraints(before, after)),
    )


def _constraints(before: Snapshot, after: Snapshot) -> list[Constraint]:
    """Constraints added, or validated, between the two reads."""
    found = []
    for oid, (name, table_oid, contype, validated) in after.constraints.items():
        earlier = before.constraints.get(oid)
        table = after.relation(table_oid) or before.relation(table_oid)
        if table is not None and (earlier is None or (validated and not earlier[3])):
            found.append(Constraint(oid, name, table, contype, validated, earlier is None))
    return found
