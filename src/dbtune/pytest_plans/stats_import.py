"""``[tool.dbtune] stats``: production's statistics in every test database the plugin plans on.

Imported once per database (server and name), the first time a statement is seen there
(again at each statement while the database lacks the file's tables: a session fixture still
migrating it), on a connection of the plugin's own and committed, as ``dbtune stats import``
does: files grown to production's page counts, figures applied, autovacuum off. A test
database is the suite's to change, and the file was named for this. Seen first, before the
test's transaction holds the tables: growing a table rebuilds its indexes, which waits for
every open transaction that read it. Under a short lock timeout all the same: a table that
stays held is left as it is (listed in the summary) rather than wait for a test that waits.

Tables empty at that moment cannot be grown (there are no rows to copy) and plan as empty: a
suite that creates its rows per test gets production's plans for the tables it seeds before
its first statement, or by running ``dbtune stats import`` before pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from dbtune.commands.stats import OtherSchema, StatsFile
from dbtune.db import connect
from dbtune.errors import DbtuneError, first_line

LOCK_TIMEOUT = "2s"
_WAITING = "statistics not imported (yet) from"


def _database(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


@dataclass
class StatsImports:
    """What was imported where: one line per database, for the summary."""

    path: str
    lines: dict[str, str] = field(default_factory=dict)
    _file: StatsFile | None = None

    def ensure(self, conn: psycopg.Connection[Any]) -> None:
        """Import into ``conn``'s database unless done (or given up) already."""
        database = _database(conn)
        if database in self.lines and not self.lines[database].startswith(_WAITING):
            return
        try:
            if self._file is None:
                self._file = StatsFile(self.path)
            conninfo = make_conninfo(
                "", **conn.info.get_parameters(), password=conn.info.password or None
            )
            with connect(conninfo, autocommit=True, application_name="dbtune pytest plugin") as own:
                own.execute("SELECT set_config('lock_timeout', %s, false)", [LOCK_TIMEOUT])
                done = self._file.into_database(own)
        except OtherSchema as exc:
            self.lines[database] = f"{_WAITING} {self.path} into {database}: {exc}"
            return
        except (DbtuneError, psycopg.Error) as exc:
            text = first_line(exc)
            self.lines[database] = f"statistics of {self.path} not imported into {database}: {text}"
            return
        left = [*done.skipped, *done.grown.skipped]
        self.lines[database] = (
            f"statistics of {self.path} imported into {database}: {done.tables} tables, "
            f"{done.columns} columns, {done.grown.count()} grown"
            + (f"; {len(left)} left as they were: {'; '.join(left)}" if left else "")
        )
