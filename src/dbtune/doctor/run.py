"""The engine: the registry of finding modules, one catalog read per run, every module over
it, scored, filtered and ordered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import ModuleType
from typing import Any

import psycopg

from dbtune.catalog import Catalog, IndexInfo, read_catalog
from dbtune.db import connect, connection_error_text, local_timeouts
from dbtune.db.dsn import describe
from dbtune.doctor.model import (
    DoctorOptions,
    DoctorReport,
    Finding,
    FindingsOutcome,
    InspectFn,
)
from dbtune.doctor.score import score
from dbtune.errors import ConnectionFailed
from dbtune.registry import modules_in

Connection = psycopg.Connection[tuple[Any, ...]]

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 2_000


def _modules() -> dict[str, ModuleType]:
    from dbtune.doctor import findings

    return modules_in(findings.__name__, findings.__path__)


def registry() -> dict[str, InspectFn]:
    """Every doctor module, by id, in id order."""
    return {name: module.inspect for name, module in _modules().items()}


def skips_locked() -> frozenset[str]:
    """The modules that cannot judge a table under an ACCESS EXCLUSIVE lock (``SKIPS_LOCKED``:
    they read index or constraint definitions, which such a lock withholds)."""
    return frozenset(n for n, m in _modules().items() if getattr(m, "SKIPS_LOCKED", False))


LOCKED_WHY = (
    "under an ACCESS EXCLUSIVE lock held or awaited by another session, its definitions could "
    "not be read; run doctor again when the lock is gone"
)


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
    """Every finding module over one catalog: pure, so testable on a catalog built in Python.
    Findings are scored, filtered (``--schema``, ``--table``, the ignore list), ordered by
    impact, and those on small objects are counted instead of listed unless ``show_all``."""
    options = options or DoctorOptions()
    outcomes = []
    by_oid = {i.oid: i for i in catalog.indexes}
    locked = catalog.locked_table_names()
    blind = skips_locked()
    for kind, inspect in registry().items():
        found = inspect(catalog, options)
        not_judged: tuple[tuple[str, str], ...] = ()
        if kind in blind and locked:
            # What such a module says of a locked table rests on definitions it never saw (an
            # index it could not read looks missing): not a finding, a table not judged.
            found = [f for f in found if _table_of(f, by_oid) not in locked]
            not_judged = tuple((name, LOCKED_WHY) for name in sorted(set(locked.values())))
        scored = [score(f, catalog, options, by_oid) for f in found]
        kept = [s for s in scored if options.selection.keeps(kind, s)]
        listed = [s for s in kept if options.show_all or not s.small]
        listed.sort(key=lambda s: -s.impact)
        outcomes.append(
            FindingsOutcome(
                kind, tuple(listed), small=len(kept) - len(listed),
                ignored=len(scored) - len(kept), not_judged=not_judged,
            )
        )  # fmt: skip
    return outcomes


def _table_of(finding: Finding, by_oid: Mapping[int, IndexInfo]) -> int | None:
    if finding.table_oid is not None:
        return finding.table_oid
    index = by_oid.get(finding.index_oid) if finding.index_oid is not None else None
    return index.table_oid if index else None


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
    if options.replicas:
        from dbtune.doctor.replicas import read_replicas

        nodes = read_replicas(url, options.replicas)
        catalog = replace(catalog, health=replace(catalog.health, replicas=nodes))
    outcomes = tuple(diagnose(catalog, options))
    locked = catalog.locked_tables()
    blind = [o.id for o in outcomes if o.not_judged]
    notes = (
        (
            f"{len(blind)} check(s) could not judge {', '.join(locked)} (under an ACCESS "
            "EXCLUSIVE lock held or awaited by another session; each says so in its entry); "
            "run doctor again when the lock is gone",
        )
        if locked
        else ()
    )
    return DoctorReport(describe(url), outcomes, notes, options.small_bytes, options.small_rows)
