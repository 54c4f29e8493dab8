"""What doctor reports: its options, a finding, a finding weighed (``Scored``), each module's
outcome and the report. Finding modules import these names from :mod:`dbtune.doctor`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from dbtune.catalog import Catalog, IndexInfo, drop_index_sql, rebuild_sql
from dbtune.doctor.selection import Selection
from dbtune.sql.index_spec import IndexSpec

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
    restores: IndexSpec | None = None  # the index the fix drops, as the catalog has it


def dropping(kind: str, index: IndexInfo, message: str) -> Finding:
    """A finding whose fix drops ``index`` concurrently; its undo builds it again from the
    keys the catalog holds for it by OID."""
    return Finding(
        kind,
        index.qualified,
        message,
        drop_index_sql(index),
        index_oid=index.oid,
        restores=index.spec(),
        columns=index.key_columns,
        undo=f"{rebuild_sql(index)};",
    )


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
