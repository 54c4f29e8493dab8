"""The server's side of pool sizing: how many connections the fleet may open in total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from dbtune.db import connect


@dataclass(frozen=True, slots=True)
class ServerBudget:
    max_connections: int
    reserved: int  # superuser_reserved_connections (+ reserved_connections on PostgreSQL 16+)
    current: int  # client connections open now

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved


def read_budget(conn: psycopg.Connection[tuple[Any, ...]]) -> ServerBudget:
    """``max_connections``, the reserved slots and the client connections open now."""
    row = conn.execute(
        "SELECT current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int"
        " + coalesce(current_setting('reserved_connections', true)::int, 0),"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
    ).fetchone()
    assert row is not None
    return ServerBudget(int(row[0]), int(row[1]), int(row[2]))


def server_budget(url: str) -> ServerBudget:
    """The budget of the server at ``url``."""
    with connect(url, autocommit=True) as conn:
        return read_budget(conn)
