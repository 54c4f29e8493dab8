"""Which existing indexes the design would drop (only under ``--propose-drops``: an index the
user did not ask dbtune to touch is the application's), each with whose it is and its undo.

Every revision dbtune writes must round-trip: the undo builds the index again from its keys as
the catalog holds them by OID (expressions, collations, operator classes, NULLS order, the
predicate, INCLUDE, the method), with ``allow_wide``: the index existed, so the width guard has
no say over building it again. A partitioned index, which no online build can make, is never
proposed.

An index is dropped only when no query of the workload uses it under the chosen design (its
name in none of the verified plans) *and* doctor calls it unused (never scanned since the
statistics were reset) or redundant (another index, existing or chosen, leads with its key).
Primary-key, unique and constraint indexes are never dropped; neither is the index led by a
foreign key's columns (doctor's own rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from dbtune.catalog import Catalog, IndexInfo
from dbtune.design.existing import owner
from dbtune.design.solver import prefix_redundant
from dbtune.query.advice import Suggestion
from dbtune.sql.helper_calls import HelperCall, drop_index

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Drop:
    index: IndexInfo
    why: str
    owner: str = "the application's"

    def call(self) -> HelperCall:
        """``drop_index_online``, its undo the index built again from the catalog's keys (none
        for a partitioned index: ``CREATE INDEX CONCURRENTLY`` cannot build it)."""
        index = self.index
        again = None if index.partitioned else index.spec()
        return drop_index(index.name, index.table, schema=index.schema, recreate=again)

    def undo(self) -> HelperCall | None:
        """The ``create_index_online`` call that builds it again exactly as it is."""
        return self.call().undo


def _as_suggestion(index: IndexInfo) -> Suggestion:
    key = tuple(
        f"{c} DESC" if d else c for c, d in zip(index.key_columns, index.descending, strict=False)
    )
    return Suggestion(
        index.schema, index.table, index.name, key, index.include, index.predicate or None
    )


def drops(
    catalog: Catalog,
    flagged: Mapping[int, str],
    used: Iterable[str],
    chosen: Sequence[Suggestion],
    versions: Path | None,
) -> list[Drop]:
    """The existing indexes to drop: used by no verified plan, unused or redundant (doctor's
    findings, ``flagged``: index OID -> why, handed in by the command), and with an exact
    undo."""
    used_names = set(used)
    found = []
    for index in catalog.indexes:
        if index.name in used_names or index.protected or not index.valid:
            continue
        why = flagged.get(index.oid)
        if why is None:
            mine = _as_suggestion(index)
            covering = next(
                (
                    c
                    for c in chosen
                    if len(c.columns) > len(mine.columns) and prefix_redundant(mine, c)
                ),
                None,
            )
            if covering is not None:
                why = f"the design's {covering.name} leads with its key and serves what it serves"
        if why is not None:
            drop = Drop(index, why, owner(index, versions))
            if drop.undo() is not None:
                found.append(drop)
    return found
