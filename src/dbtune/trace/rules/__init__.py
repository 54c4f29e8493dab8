"""The trace's rules, one module each; the module name is the rule's id.

Each module's docstring states the problem, what in the trace decides it and the safer way
(rendered into ``docs/trace/<id>.md``), and defines ``check(revision, settings) -> list[Hit]``:
a pure function of one :class:`~dbtune.trace.record.RevisionTrace`, so every rule can be
tested on a recorded trace as well as on a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbtune.registry import modules_in
from dbtune.trace.record import Lock, RevisionTrace, StatementTrace


@dataclass(frozen=True, slots=True)
class Settings:
    """Thresholds the rules share (``dbtune trace --large-rows``)."""

    large_rows: int = 1000  # a data change this large in a DDL transaction is a finding
    slow_ms: float = 100.0  # a later statement this slow keeps an earlier lock waiting


@dataclass(frozen=True, slots=True)
class Hit:
    """One problem a rule found: the statement (its number in the revision), on what, why,
    and the safer way with dbtune's helpers."""

    statement: int
    subject: str
    message: str
    safer: str


CheckFn = Callable[[RevisionTrace, Settings], list[Hit]]


def registry() -> dict[str, CheckFn]:
    """Every rule, by id, in id order."""
    return {name: module.check for name, module in modules_in(__name__, __path__).items()}


def existing_locks(revision: RevisionTrace, statement: StatementTrace) -> list[Lock]:
    """The write-blocking locks ``statement`` took on relations that existed when the
    revision began (a table created in the same revision has no readers or writers yet)."""
    return [
        lock for lock in statement.locks if lock.blocks_writes and revision.existed(lock.relation)
    ]


def shown(sql: str, limit: int = 120) -> str:
    """A statement on one line, cut to ``limit`` characters for a message."""
    line = " ".join(sql.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def timeout_off(value: str) -> bool:
    return value.strip() in ("0", "0ms", "0s", "")
