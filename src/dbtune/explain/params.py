"""A query's parameter values: literals, or picker queries run once per run."""

from __future__ import annotations

from typing import Any

import psycopg

from dbtune.explain.results import QueryFailed
from dbtune.explain.transaction import volatile_functions
from dbtune.sqltext import Access, SqlTextError, analyse, with_own_marker
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
                raise QueryFailed(
                    f"the picker for parameter {name} returned no row; "
                    "is the database seeded? (python -m dbtune seed --dsn URL)"
                )
            self.values[picker.sql] = row[0]
        return self.values[picker.sql]
