"""Which findings a run reports: ``--schema``, ``--table`` and ``[tool.dbtune] ignore``.

Ignore entries name what a team has decided to live with::

    ignore = [
        "index:public.ix_legacy_*",             # any finding on these indexes
        "table:audit.*",                        # any finding on the tables of schema audit
        "check:unused_indexes",                 # a whole check
        "check:unused_indexes:table:audit_*",   # one check, on some tables
    ]

Names are the catalog's (unquoted, case as stored) and may use shell wildcards; a table or
index pattern without a dot matches the name in any schema.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbtune.errors import UsageError

_KINDS = ("index", "table")


def _matches(pattern: str, schema: str | None, name: str | None) -> bool:
    if name is None:
        return False
    if "." in pattern:
        return fnmatch.fnmatchcase(f"{schema}.{name}", pattern)
    return fnmatch.fnmatchcase(name, pattern)


@dataclass(frozen=True, slots=True)
class Ignore:
    check: str | None  # None: any check
    kind: str | None  # "index" or "table"; None: the whole check
    pattern: str = "*"

    @classmethod
    def parse(cls, entry: str) -> Ignore:
        parts = entry.split(":")
        if len(parts) == 2 and parts[0] in _KINDS and parts[1]:
            return cls(None, parts[0], parts[1])
        if len(parts) == 2 and parts[0] == "check" and parts[1]:
            return cls(parts[1], None)
        if len(parts) == 4 and parts[0] == "check" and parts[2] in _KINDS and parts[3]:
            return cls(parts[1], parts[2], parts[3])
        raise UsageError(
            f"ignore entry {entry!r}: write index:SCHEMA.NAME, table:SCHEMA.NAME, check:ID or "
            "check:ID:table:PATTERN (names may use * and ?)"
        )

    def covers(self, check: str, scored: Any) -> bool:
        if self.check is not None and self.check != check:
            return False
        if self.kind is None:
            return True
        name = scored.index if self.kind == "index" else scored.table
        return _matches(self.pattern, scored.schema, name)


@dataclass(frozen=True, slots=True)
class Selection:
    schemas: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    ignore: tuple[Ignore, ...] = ()

    @classmethod
    def build(
        cls, schemas: Sequence[str] = (), tables: Sequence[str] = (), ignore: Sequence[str] = ()
    ) -> Selection:
        return cls(tuple(schemas), tuple(tables), tuple(Ignore.parse(e) for e in ignore))

    def keeps(self, check: str, scored: Any) -> bool:
        """Whether a scored finding of ``check`` is reported. A finding of no table (the
        connection budget) passes the schema and table filters."""
        if self.schemas and scored.schema is not None and scored.schema not in self.schemas:
            return False
        if (
            self.tables
            and scored.table is not None
            and not any(_matches(p, scored.schema, scored.table) for p in self.tables)
        ):
            return False
        return not any(rule.covers(check, scored) for rule in self.ignore)
