"""What a trace saw: per statement, what it locked, rewrote, scanned, created and validated.

The records are facts read from the server (``pg_locks``, ``pg_class.relfilenode``,
``pg_stat_xact_user_tables``, ``pg_constraint``) around each statement Alembic sent, plus the
statement's parse tree; the rules (:mod:`dbtune.trace.rules`) judge them, nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pglast import ast

# Lock modes that conflict with ROW EXCLUSIVE, which every INSERT/UPDATE/DELETE takes: while one
# of them is held, or only queued, the table's writers wait.
WRITE_BLOCKING = frozenset(
    {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}
)
SPELLED = {
    "AccessShareLock": "ACCESS SHARE",
    "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}


@dataclass(frozen=True, slots=True)
class Relation:
    """A table, index, sequence or view by OID: its name as SQL spells it, its ``relkind``,
    and for an index the table it belongs to."""

    oid: int
    name: str
    kind: str
    table_oid: int
    schema: str = ""
    relname: str = ""


@dataclass(frozen=True, slots=True)
class Lock:
    relation: Relation
    mode: str

    @property
    def blocks_writes(self) -> bool:
        return self.mode in WRITE_BLOCKING

    @property
    def spelled(self) -> str:
        return SPELLED.get(self.mode, self.mode)


@dataclass(frozen=True, slots=True)
class Scan:
    """Sequential scans a statement ran on a table (``pg_stat_xact_user_tables`` deltas)."""

    relation: Relation
    scans: int
    rows: int


@dataclass(frozen=True, slots=True)
class Constraint:
    """A constraint the statement added or validated (``pg_constraint``)."""

    oid: int
    name: str
    table: Relation
    contype: str  # c check, f foreign key, u unique, p primary key, x exclusion, n not null
    validated: bool
    new: bool  # added by the statement (else: an existing one it validated)


@dataclass(slots=True)
class StatementTrace:
    number: int
    sql: str
    nodes: tuple[ast.Node, ...]
    autocommit: bool
    transaction: int
    lock_timeout: str = ""
    statement_timeout: str = ""
    duration_ms: float = 0.0
    rowcount: int = -1
    targets: tuple[Relation, ...] = ()  # relations the statement names, resolved before it ran
    locks: tuple[Lock, ...] = ()  # locks it took that were not held before it
    rewritten: tuple[Relation, ...] = ()
    scanned: tuple[Scan, ...] = ()
    created: tuple[Relation, ...] = ()
    dropped: tuple[Relation, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    held_ms: float = 0.0  # from its end to the end of its transaction
    error: str | None = None
    bookkeeping: bool = False  # Alembic's own version-table reads and writes
    observed: bool = True  # False when the transaction had failed and nothing could be read

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(type(n).__name__ for n in self.nodes)


@dataclass(slots=True)
class RevisionTrace:
    revision: str
    path: Path
    message: str
    existing: frozenset[int] = frozenset()  # relation OIDs at the revision's start
    statements: list[StatementTrace] = field(default_factory=list)
    duration_ms: float = 0.0
    allows: dict[str, str] = field(default_factory=dict)  # rule -> reason
    allow_problems: list[str] = field(default_factory=list)
    # btree indexes by (table OID, index name): (name as SQL spells it, widest entry in bytes,
    # None when a held column is unbounded), when the revision began and when it ended
    entry_bounds_before: dict[tuple[int, str], tuple[str, int | None]] = field(default_factory=dict)
    entry_bounds_after: dict[tuple[int, str], tuple[str, int | None]] = field(default_factory=dict)
    error: str | None = None

    def work(self) -> list[StatementTrace]:
        """The revision's own statements (not Alembic's version-table bookkeeping)."""
        return [s for s in self.statements if not s.bookkeeping]

    def existed(self, relation: Relation) -> bool:
        """Whether ``relation`` (or, for an index, its table) was there when the revision began:
        what running code already uses and what production already holds rows of."""
        return relation.oid in self.existing
