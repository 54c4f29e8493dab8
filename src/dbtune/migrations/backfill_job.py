"""What one backfill does, as both its online run (:mod:`.backfill`) and its offline SQL
(:mod:`.offline`) read it."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True, slots=True)
class Backfill:
    """What one backfill does: the SET list and the filter as SQL text (checked by pglast)."""

    table: str
    schema: str | None
    assignments: str
    where: str | None
    key: tuple[str, ...]
    batch_size: int
    pause_s: float
    statement_timeout: str
    max_lag_s: float
    name: str
    max_batch_s: float | None = None  # None: every batch is batch_size rows (the offline SQL)

    def where_sql(self) -> sql.Composable:
        return sql.SQL(" AND ({})").format(sql.SQL(self.where)) if self.where else sql.SQL("")
