"""Storage budgets as users write them: ``512MB``, ``1.5GB``, ``800kB``, or ``0.25x`` (a
share of the data's size, so one command line fits a small database and a large one).

The data's size is that of the tables the workload reads, as the database's search path finds
them (``pg_table_size``: the heap and its TOAST, without indexes): an index budget is weighed
against what it indexes.

A budget holds dbtune's indexes, not only the new ones: those its ops chain already built count
against it (:func:`spent_bytes`), so the design applied and the same command run again
proposes nothing more (SPEC §11). They are sized the way a candidate is — HypoPG's estimate of
the same definition, or the built file under the build engine — so the second run weighs the
first run's indexes as the first run did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from dbtune.errors import UsageError

Connection = psycopg.Connection[tuple[Any, ...]]

_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget in bytes, or as a share of the data's size (``share``, from ``0.25x``)."""

    text: str
    bytes: int | None = None
    share: float | None = None

    def resolve(self, data_bytes: int) -> int:
        if self.bytes is not None:
            return self.bytes
        return int((self.share or 0.0) * data_bytes)


def parse_budget(text: str) -> Budget:
    """``512MB`` (kB, MB, GB, TB: powers of 1024, as PostgreSQL's own units), ``1.5GB``,
    ``0.25x``; raises UsageError saying what is accepted."""
    found = _SIZE.fullmatch(text)
    unit = found.group(2).lower() if found else ""
    if found is None or (unit not in _UNITS and unit != "x"):
        raise UsageError(
            f"not a storage budget: {text!r}; write a size (512MB, 1.5GB, 800kB) or a share "
            "of the data's size (0.25x)"
        )
    value = float(found.group(1))
    if unit == "x":
        return Budget(text.strip(), share=value)
    return Budget(text.strip(), bytes=int(value * _UNITS[unit]))


def parse_budgets(text: str) -> tuple[Budget, ...]:
    """A comma-separated list of budgets (``--budget-curve 0.25x,0.5x,1x,2GB``)."""
    return tuple(parse_budget(part) for part in text.split(",") if part.strip())


_DATA = """
SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class AS c
WHERE c.relkind IN ('r', 'p', 'm') AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid)
"""


def data_bytes(conn: Connection, tables: Iterable[str]) -> int:
    """The size of the named tables as the search path finds them (heap and TOAST)."""
    row = conn.execute(_DATA, [sorted(set(tables))]).fetchone()
    return int(row[0]) if row else 0


def spent_bytes(conn: Connection, oids: Iterable[int], engine: str) -> int:
    """The size of the existing indexes ``oids`` as the what-if ``engine`` sizes a candidate."""
    total = 0
    for oid in sorted(set(oids)):
        if engine == "hypopg":
            row = conn.execute(
                "SELECT indexrelid, hypopg_relation_size(indexrelid) "
                "FROM hypopg_create_index(pg_get_indexdef(%s::oid))",
                [oid],
            ).fetchone()
            if row:
                conn.execute("SELECT hypopg_drop_index(%s)", [row[0]])
        else:
            row = conn.execute("SELECT 0, pg_relation_size(%s::oid)", [oid]).fetchone()
        total += int(row[1]) if row else 0
    return total


def size_text(n: int) -> str:
    """A size as a person reads it: ``12.3 MB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TB"
