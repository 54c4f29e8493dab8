"""A query's parameter values: literals, or picker queries run once per run."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from dbtune.explain.transaction import volatile_functions
from dbtune.query.result import QueryFailed
from dbtune.sql.text import Access, SqlTextError, StatementInfo, analyse, with_own_marker
from dbtune.workload import HotQuery, ParamPicker

Connection = psycopg.Connection[tuple[Any, ...]]


class Pickers:
    """Runs each picker query once per run: profiles and queries share the same pickers."""

    def __init__(self, allow_writes: bool = False) -> None:
        self.values: dict[str, Any] = {}
        self.allow_writes = allow_writes

    def value(self, conn: Connection, query: HotQuery, name: str, picker: ParamPicker) -> Any:
        if picker.sql is None:
            return picker.literal
        if picker.sql not in self.values:
            try:
                info = analyse(picker.sql)
            except SqlTextError as exc:
                raise QueryFailed(f"the picker for parameter {name}: {exc}") from None
            if info.access is not Access.READ:
                raise QueryFailed(
                    f"the picker for parameter {name} is a {info.access.value}; a picker must "
                    "be a plain SELECT"
                )
            volatile = volatile_functions(conn, info)
            if volatile and not self.allow_writes:
                raise QueryFailed(
                    f"the picker for parameter {name} calls {', '.join(volatile)}, which may act "
                    "outside the transaction; pass --allow-writes to run it"
                )
            # prepare=True: the extended protocol, which runs one statement and no more.
            # Marked as dbtune's own: `workload capture --update` must not take it in.
            row = conn.execute(with_own_marker(picker.sql), prepare=True).fetchone()
            if row is None:
                raise QueryFailed(_no_row(conn, name, info))
            self.values[picker.sql] = row[0]
        return self.values[picker.sql]


def _no_row(conn: Connection, name: str, info: StatementInfo) -> str:
    """Why a picker found nothing: the empty tables it reads, named; the seed command only
    when they are all tables of dbtune's own demo schema."""
    from dbtune.reference.seed import TABLES  # the demo schema's tables: only for this message

    empty = []
    for relation in info.relations:
        parts = [p for p in (relation.schema, relation.name) if p]
        row = conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(sql.Identifier(*parts))
        ).fetchone()
        if row and row[0]:
            empty.append(".".join(parts))
    text = f"the picker for parameter {name} returned no row"
    if not empty:
        return f"{text}: no row of its tables matches it here"
    text += f": {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty here"
    if all(r.name in TABLES for r in info.relations):
        text += " (dbtune's demo schema: python -m dbtune seed --dsn URL)"
    return text
