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

from dbtune.db import connect
from dbtune.dsn import describe

Connection = psycopg.Connection[tuple[Any, ...]]


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

    check: str
    subject: str
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    id: str
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        return "fail" if self.findings else "pass"


@dataclass(frozen=True, slots=True)
class DoctorReport:
    target: str
    outcomes: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(not o.findings for o in self.outcomes)


InspectFn = Callable[[Connection, DoctorOptions], list[Finding]]


@cache
def registry() -> dict[str, InspectFn]:
    """Every doctor module, by id, in id order."""
    found: dict[str, InspectFn] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{__name__}.{info.name}").inspect
    return found


def run_doctor(url: str, options: DoctorOptions | None = None) -> DoctorReport:
    """Inspect the database at ``url`` with every doctor module (read-only, rolled back)."""
    options = options or DoctorOptions()
    outcomes = []
    with connect(url) as conn:
        conn.read_only = True
        for check_id, inspect in registry().items():
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('statement_timeout', '60000', true)")
                outcomes.append(CheckOutcome(check_id, tuple(inspect(conn, options))))
    return DoctorReport(describe(url), tuple(outcomes))
