"""``dbtune doctor``: index and pool health of a live database, one module per finding type.

Each module's docstring states the problem, how it is detected and the fix (rendered into
``docs/doctor/<id>.md``) and defines ``inspect(catalog, options) -> list[Finding]``, a pure
function of the catalog read once per run (:mod:`dbtune.catalog`). The registry is built from
the module names, like the plan checks'.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg

from dbtune.catalog import Catalog, read_catalog
from dbtune.db import connect, connection_error_text, local_timeouts
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


InspectFn = Callable[[Catalog, DoctorOptions], list[Finding]]


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
            f"a catalog it reads is locked by another session ({text}); run doctor again when "
            "the lock is gone"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return f"its catalog queries ran past {STATEMENT_TIMEOUT_MS // 1000} s ({text})"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"permission denied ({text}); grant pg_read_all_stats or run as the table owner"
    return text


def _read(conn: Connection, url: str, options: DoctorOptions) -> Catalog | str:
    """The catalog, or why it could not be read (every finding is then skipped)."""
    try:
        with conn.transaction(force_rollback=True):
            local_timeouts(conn, STATEMENT_TIMEOUT_MS, LOCK_TIMEOUT_MS)
            return read_catalog(conn, measure_rows_max=options.widest_entry_max_rows)
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise ConnectionFailed(
                f"lost the connection to {describe(url)} during doctor "
                f"({connection_error_text(exc)}); run it again when the server is up"
            ) from None
        return _skip_reason(exc)


def diagnose(catalog: Catalog, options: DoctorOptions | None = None) -> list[FindingsOutcome]:
    """Every finding module over one catalog: pure, so testable on a catalog built in Python."""
    options = options or DoctorOptions()
    return [
        FindingsOutcome(kind, tuple(inspect(catalog, options)))
        for kind, inspect in registry().items()
    ]


def run_doctor(url: str, options: DoctorOptions | None = None) -> DoctorReport:
    """Inspect the database at ``url`` (read-only, rolled back) with every finding module.

    The catalog is read once, in one transaction under a short ``lock_timeout`` and a
    ``statement_timeout``; the modules are pure functions of it. When it cannot be read
    (permission, a locked catalog), every module is reported as skipped with the reason.
    """
    options = options or DoctorOptions()
    with connect(url) as conn:
        conn.read_only = True
        catalog = _read(conn, url, options)
    if isinstance(catalog, str):
        skipped = tuple(FindingsOutcome(kind, (), skipped=catalog) for kind in registry())
        return DoctorReport(describe(url), skipped)
    locked = catalog.locked_tables()
    notes = (
        (
            f"not inspected: the indexes of {', '.join(locked)}, under an ACCESS EXCLUSIVE "
            "lock held or awaited by another session; run doctor again when it is gone",
        )
        if locked
        else ()
    )
    return DoctorReport(describe(url), tuple(diagnose(catalog, options)), notes)
