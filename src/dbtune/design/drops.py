"""Which existing indexes the design would drop (only under ``--propose-drops``: an index the
user did not ask dbtune to touch is the application's), each with whose it is and its undo.

An index whose undo the online helper cannot write exactly (an expression, an operator class,
a collation, a NULLS order, another method) is never proposed: every revision dbtune writes
must round-trip. The undo passes ``allow_wide``: the index existed, so the width guard has no
say over building it again.

An index is dropped only when no query of the workload uses it under the chosen design (its
name in none of the verified plans) *and* doctor calls it unused (never scanned since the
statistics were reset) or redundant (another index, existing or chosen, leads with its key).
Primary-key, unique and constraint indexes are never dropped; neither is the index led by a
foreign key's columns (doctor's own rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast, parse_sql

from dbtune.catalog import Catalog, IndexInfo
from dbtune.design.existing import owner
from dbtune.design.solver import prefix_redundant
from dbtune.query.advice import Suggestion
from dbtune.sql.helper_calls import HelperCall, drop_index, index_stmt

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Drop:
    index: IndexInfo
    why: str
    owner: str = "the application's"

    def call(self) -> HelperCall:
        return drop_index(self.index.name, self.index.table, schema=self.index.schema)

    def undo(self) -> HelperCall | None:
        """The ``create_index_online`` call that builds it again as it is."""
        statement = parse_sql(self.index.definition)[0].stmt
        call = index_stmt(statement) if isinstance(statement, ast.IndexStmt) else None
        if call is None:
            return None
        return replace(call, kwargs=(*call.kwargs, ("allow_wide", True)))


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
