"""``dbtune doctor``: index and pool health of a live database, one module per finding type.

Each module's docstring states the problem, how it is detected and the fix (rendered into
``docs/doctor/<id>.md``) and defines ``inspect(catalog, options) -> list[Finding]``, a pure
function of the catalog read once per run (:mod:`dbtune.catalog`). The registry is built from
the module names, like the plan checks'. A module that reads index or constraint definitions
sets ``SKIPS_LOCKED = True``: a table under an ACCESS EXCLUSIVE lock withholds them, so the
module's entry lists that table as not judged instead of passing it or reporting it on what
it could not see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Literal

import psycopg

from dbtune.catalog import Catalog, IndexInfo, read_catalog
from dbtune.db import connect, connection_error_text, local_timeouts
from dbtune.doctor.selection import Selection
from dbtune.dsn import describe
from dbtune.errors import ConnectionFailed
from dbtune.registry import modules_in

Connection = psycopg.Connection[tuple[Any, ...]]

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 2_000


SMALL_BYTES = 8 * 2**20
SMALL_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    instances: int = 1
    pool_max: int | None = None  # the application's declared pool: --pool-max
    pool_size: int | None = None  # or SQLAlchemy's pool_size + max_overflow
    max_overflow: int | None = None
    replicas: tuple[str, ...] = ()  # --replica URLs: their index scans count too
    hot_queries: tuple[tuple[str, str], ...] = ()  # (name, SQL) of the workload's queries
    unused_min_bytes: int = 10 * 2**20
    all_visible_min: float = 0.8
    visibility_min_pages: int = 128
    widest_entry_max_rows: int = 200_000
    # Signal first: a finding whose table (or index) is below both is summarised, not listed.
    small_bytes: int = SMALL_BYTES
    small_rows: int = SMALL_ROWS
    show_all: bool = False
    selection: Selection = field(default_factory=Selection)
    # health checks' thresholds (docs/doctor.md says why each)
    sequence_used_max: float = 0.75
    int_key_used_max: float = 0.5
    xid_age_max: int = 1_200_000_000
    stale_fraction: float = 0.2
    stale_min_rows: int = 1000
    bloat_fraction: float = 0.5
    bloat_min_bytes: int = 2**20
    missing_index_min_scans: int = 50


Severity = Literal["high", "medium", "low"]
SEVERITY_WEIGHT = {"high": 4.0, "medium": 2.0, "low": 1.0}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what it concerns, what is wrong, the statement or step that fixes it, and
    (for a fix that drops something) the statement that puts it back exactly as it was."""

    kind: str  # the finding module's id
    subject: str
    message: str
    fix: str
    severity: Severity = "medium"
    table_oid: int | None = None
    index_oid: int | None = None
    columns: tuple[str, ...] = ()
    undo: str = ""
    schema: str | None = None  # for an object that is neither a table nor an index (a sequence)


@dataclass(frozen=True, slots=True)
class Scored:
    """A finding with what it weighs: the size and traffic of the object it concerns, read
    from the same catalog, so findings of all modules can be ordered by one measure."""

    finding: Finding
    schema: str | None = None
    table: str | None = None
    index: str | None = None
    size_bytes: int | None = None
    rows: float | None = None
    scans: int | None = None
    writes_per_day: float | None = None
    small: bool = False

    @property
    def impact(self) -> float:
        """Bytes at stake (a row counts 100 bytes), times the severity's weight; a finding of
        no object (the connection budget) counts as 1 GB."""
        if self.size_bytes is None and self.rows is None:
            weight = float(2**30)
        else:
            weight = max(float(self.size_bytes or 0), (self.rows or 0) * 100.0, 1.0)
        return weight * SEVERITY_WEIGHT[self.finding.severity]


@dataclass(frozen=True, slots=True)
class FindingsOutcome:
    id: str
    findings: tuple[Scored, ...]
    skipped: str | None = None  # why the module could not run (permission, lock, timeout)
    small: int = 0  # findings on small objects, counted and not listed (without --all)
    ignored: int = 0  # findings the filters or the ignore list left out
    not_judged: tuple[tuple[str, str], ...] = ()
    """(table, why) for each table this module could not judge (a lock kept its definitions
    from the read): said in the module's own entry, never passed over in silence."""

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        if self.findings or self.small:
            return "fail"
        return "skipped" if self.not_judged else "pass"


@dataclass(frozen=True, slots=True)
class DoctorReport:
    target: str
    outcomes: tuple[FindingsOutcome, ...]
    notes: tuple[str, ...] = ()
    small_bytes: int = SMALL_BYTES
    small_rows: int = SMALL_ROWS

    @property
    def passed(self) -> bool:
        return all(not o.findings and not o.small for o in self.outcomes)

    def ranked(self) -> list[tuple[str, Scored]]:
        """Every listed finding of every module, the weightiest first."""
        found = [(o.id, s) for o in self.outcomes for s in o.findings]
        return sorted(found, key=lambda pair: -pair[1].impact)


InspectFn = Callable[[Catalog, DoctorOptions], list[Finding]]


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


def score(
    finding: Finding,
    catalog: Catalog,
    options: DoctorOptions,
    by_oid: Mapping[int, IndexInfo] | None = None,
) -> Scored:
    """What ``finding`` weighs, from the catalog it was found in (``by_oid``: its indexes by
    OID, built once per run by the caller)."""
    if by_oid is None:
        by_oid = {i.oid: i for i in catalog.indexes}
    index = by_oid.get(finding.index_oid) if finding.index_oid is not None else None
    table_oid = finding.table_oid if finding.table_oid is not None else (
        index.table_oid if index else None
    )  # fmt: skip
    table = catalog.tables.get(table_oid) if table_oid is not None else None
    facts = catalog.health.tables.get(table_oid) if table_oid is not None else None
    if index is None and table is None and facts is None:
        return Scored(finding, schema=finding.schema)
    if index is not None:
        size: int | None = index.bytes
    elif table is not None:
        size = table.pages * 8192
    else:
        size = facts.pages * 8192 if facts else None
    tuples = table.tuples if table else (facts.tuples if facts else -1.0)
    rows = tuples if tuples >= 0 else None
    days = max(catalog.stats_age_s / 86_400, 1 / 24)
    return Scored(
        finding,
        schema=index.schema if index else (table or facts).schema,  # type: ignore[union-attr]
        table=index.table if index else (table or facts).name,  # type: ignore[union-attr]
        index=index.name if index else None,
        size_bytes=size,
        rows=rows,
        scans=index.scans if index else None,
        writes_per_day=table.writes / days if table else None,
        small=(size or 0) < options.small_bytes and (rows or 0) < options.small_rows,
    )


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
