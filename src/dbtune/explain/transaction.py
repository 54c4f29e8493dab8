"""The transaction a query is explained in: its settings (timeouts, the forced modes' planner
switches) in one statement, and whether the query may be executed (EXPLAIN ANALYZE) at all.

Two modes: *will-use* plans with the server's settings (does the planner choose the index at
this data volume?); *can-use* switches off sequential scans, bitmap scans and explicit sorts
(``enable_* = off``), which proves on a small CI database that the index *can* serve the query
at all; *can-reach*, the pytest plugin's, switches off sequential scans only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql

from dbtune.query.options import CAN_REACH, CAN_USE
from dbtune.sql.text import Access, StatementInfo

LOCK_TIMEOUT_MS = 5_000
CAN_USE_SETTINGS = ("enable_seqscan", "enable_bitmapscan", "enable_sort")
FORCED_SETTINGS = {CAN_USE: CAN_USE_SETTINGS, CAN_REACH: ("enable_seqscan",)}

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Execution:
    """How one statement is run: executed or only planned, and in which transaction."""

    analyze: bool
    read_only: bool
    unmeasured: str | None


GENERIC_ONLY = "a $n query: its generic plan is checked, there are no values to run it with"


def execution(info: StatementInfo, analyze: bool, allow_writes: bool) -> Execution:
    if info.dollar_parameters:
        return Execution(False, True, GENERIC_ONLY)
    if not analyze:
        return Execution(False, True, None)
    if info.access is Access.READ:
        # A read that calls a volatile function may write (nextval, a user function): with
        # --allow-writes it runs read-write (still rolled back), otherwise read-only.
        return Execution(True, not (allow_writes and info.functions), None)
    if allow_writes:
        return Execution(True, False, None)
    return Execution(False, True, f"{info.access.value}: pass --allow-writes")


# Volatile by the catalog's word, but without effects outside the query.
HARMLESS_VOLATILE = frozenset(
    {"random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid", "uuidv4"}
)


def unless_volatile(run: Execution, volatile: list[str], allow_writes: bool) -> Execution:
    """A volatile function may act outside the transaction (pg_terminate_backend,
    dblink_exec, nextval): plan, don't execute, unless told to."""
    if volatile and run.analyze and not allow_writes:
        return Execution(False, True, f"calls {', '.join(volatile)}: pass --allow-writes")
    return run


def volatile_functions(conn: Connection, info: StatementInfo) -> list[str]:
    """The volatile functions a statement calls (by name: any overload that is volatile)."""
    names = [
        n for n in (f.rsplit(".", 1)[-1] for f in info.functions) if n not in HARMLESS_VOLATILE
    ]
    if not names:
        return []
    rows = conn.execute(
        "SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY(%s) AND provolatile = 'v'"
        " ORDER BY 1",
        [names],
    ).fetchall()
    return [str(r[0]) for r in rows]


@lru_cache(maxsize=16)
def settings_statement(statement_timeout_ms: int, mode: str) -> sql.Composed:
    """One statement setting every value for the transaction: literal, so the same text each
    time (prepared once per connection) and nothing to bind."""
    settings = {
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(min(LOCK_TIMEOUT_MS, statement_timeout_ms)),
    }
    settings.update(dict.fromkeys(FORCED_SETTINGS.get(mode, ()), "off"))
    calls = sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value))
        for name, value in settings.items()
    )
    return sql.SQL("SELECT {}").format(calls)


def transaction_settings(conn: Connection, statement_timeout_ms: int, mode: str) -> None:
    """Timeouts (a lock wait shows as one, not as a slow plan) and the can-use switches, for
    this transaction only, in one round trip."""
    conn.execute(settings_statement(statement_timeout_ms, mode), prepare=True)
