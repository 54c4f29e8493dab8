"""``dbtune doctor``: index and pool health of a live database, one module per finding type.

Each module's docstring states the problem, how it is detected and the fix (rendered into
``docs/doctor/<id>.md``) and defines ``inspect(conn, options) -> list[Finding]``. The registry
is built from the module names, like the plan checks'.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg

from dbtune.db import connect, connection_error_text
from dbtune.dsn import describe
from dbtune.errors import ConnectionFailed

Connection = psycopg.Connection[tuple[Any, ...]]

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 2_000


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    instances: int = 1
    unused_min_bytes: int = 10 * 2**20
    all_visible_min: float = 0.8
    visibility_min_pages: int = 128
    widest_entry_max_rows: int = 200_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what it concerns, what is wrong, and the statement or step that fixes it."""

    kind: str  # the finding module's id
    subject: str
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class FindingsOutcome:
    id: str
    findings: tuple[Finding, ...]
    skipped: str | None = None  # why the module could not run (permission, lock, timeout)

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "fail" if self.findings else "pass"


@dataclass(frozen=True, slots=True)
class DoctorReport:
    target: str
    outcomes: tuple[FindingsOutcome, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(not o.findings for o in self.outcomes)


InspectFn = Callable[[Connection, DoctorOptions], list[Finding]]


@cache
def registry() -> dict[str, InspectFn]:
    """Every doctor module, by id, in id order."""
    found: dict[str, InspectFn] = {}
    from dbtune.doctor import findings

    for info in sorted(pkgutil.iter_modules(findings.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{findings.__name__}.{info.name}")
            found[info.name] = module.inspect
    return found


def _skip_reason(exc: psycopg.Error) -> str:
    text = connection_error_text(exc)
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return (
            f"a table it reads is locked by another session ({text}); run doctor again when "
            "the lock is gone"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return f"its catalog queries ran past {STATEMENT_TIMEOUT_MS // 1000} s ({text})"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"permission denied ({text}); grant pg_read_all_data or run as the table owner"
    return text


def run_doctor(url: str, options: DoctorOptions | None = None) -> DoctorReport:
    """Inspect the database at ``url`` with every doctor module (read-only, rolled back).

    Each module runs in its own transaction under a short ``lock_timeout`` and a
    ``statement_timeout``: a module that cannot run (permission, a locked table) is reported
    as skipped with the reason, and the others still run.
    """
    options = options or DoctorOptions()
    outcomes = []
    with connect(url) as conn:
        conn.read_only = True
        for kind, inspect in registry().items():
            try:
                with conn.transaction(force_rollback=True):
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, true),"
                        " set_config('lock_timeout', %s, true)",
                        [str(STATEMENT_TIMEOUT_MS), str(LOCK_TIMEOUT_MS)],
                    )
                    outcomes.append(FindingsOutcome(kind, tuple(inspect(conn, options))))
            except psycopg.Error as exc:
                if conn.closed or conn.broken:
                    raise ConnectionFailed(
                        f"lost the connection to {describe(url)} during doctor "
                        f"({connection_error_text(exc)}); run it again when the server is up"
                    ) from None
                outcomes.append(FindingsOutcome(kind, (), skipped=_skip_reason(exc)))
        notes = _locked_note(conn)
    return DoctorReport(describe(url), tuple(outcomes), notes)


def _locked_note(conn: Connection) -> tuple[str, ...]:
    from dbtune.doctor.catalog import locked_tables

    try:
        with conn.transaction(force_rollback=True):
            locked = locked_tables(conn)
    except psycopg.Error:
        return ()
    if not locked:
        return ()
    return (
        f"not inspected: the indexes of {', '.join(locked)}, under an ACCESS EXCLUSIVE lock "
        "held or awaited by another session; run doctor again when it is gone",
    )
