"""``stats export`` / ``stats import``, and the one way a statistics file reaches a run.

A :class:`StatsFile` is read once (a bad file fails before any server starts) and handed to
whoever plans with it: explain imports it into its rolled-back transaction
(:meth:`StatsFile.into_transaction`), trace before each revision
(:meth:`StatsFile.before_revision`), the pytest plugin and ``stats import`` into a database for
good (:meth:`StatsFile.into_database`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from dbtune.db import connect
from dbtune.stats import file as stats_file
from dbtune.stats.export import export_stats
from dbtune.stats.grow import GROW_LIMIT_MB, Grown, give_back
from dbtune.stats.restore import OtherSchema, Restored, import_before, restore_stats

Connection = psycopg.Connection[Any]

__all__ = ["GROW_LIMIT_MB", "OtherSchema", "Restored", "StatsFile", "export"]


@dataclass
class StatsFile:
    """A ``dbtune stats export`` file, read at once; ``say`` hears what an import did."""

    path: str
    say: Callable[[str], None] = lambda _: None
    data: dict[str, Any] = field(init=False)
    grown: Grown = field(init=False, default_factory=Grown)

    def __post_init__(self) -> None:
        self.data = stats_file.read(Path(self.path))

    def into_database(
        self, conn: Connection, *, keep_autovacuum: bool = False, grow_limit_mb: int = GROW_LIMIT_MB
    ) -> Restored:
        """Files grown, figures applied, in ``conn``'s current transaction (or committed)."""
        return restore_stats(conn, self.data, keep_autovacuum=keep_autovacuum,
                             grow_limit_bytes=grow_limit_mb << 20)  # fmt: skip

    def into_transaction(self, conn: Connection) -> None:
        """explain's ``prepare``: imported into the run's transaction, which is rolled back;
        :meth:`give_back` shrinks the grown files afterwards."""
        done = self.into_database(conn, keep_autovacuum=True)
        self.grown = done.grown
        for why in (*done.skipped, *done.grown.skipped):
            self.say(f"--stats: {why}")
        self.say(
            f"planning with the statistics of {self.path}: {done.tables} tables, "
            f"{done.columns} columns, {done.grown.count()} grown to "
            "production's page counts (in this run's transaction, rolled back at the end; the "
            "files are vacuumed back to their rows' size after it)"
        )

    def give_back(self, url: str) -> None:
        if not self.grown.names:
            return
        with connect(url, autocommit=True) as conn:
            failed = give_back(conn, self.grown)
        for why in failed:
            self.say(f"--stats: could not vacuum {why}")

    def before_revision(self, conn: Any, revision: str) -> list[str]:
        """trace's ``before_each``: the file's figures for the tables the chain has so far;
        notes for what could not be done."""
        return import_before(conn, self.data, revision)


def export(
    url: str, *, schemas: Sequence[str] = (), tables: Sequence[str] = (), values: bool = True
) -> dict[str, Any]:
    """The statistics of ``url``'s tables, as the file :func:`write` stores."""
    with connect(url) as conn:
        return export_stats(conn, schemas=schemas, tables=tables, values=values)


write = stats_file.write
