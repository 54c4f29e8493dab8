"""Foreign keys added without blocking writers on either table for a scan.

``ADD FOREIGN KEY`` takes SHARE ROW EXCLUSIVE on *both* tables (writers wait) and holds it while
it scans the referencing table. Added ``NOT VALID`` it is a catalog change (it checks new rows
from then on); ``VALIDATE CONSTRAINT`` then scans under SHARE UPDATE EXCLUSIVE on the
referencing table and ROW SHARE on the referenced one, which lets reads and writes go on. Each
ALTER waits at most ``lock_timeout`` and is retried; the sessions in the way are named on
either table. A foreign key whose columns lead no index makes every DELETE on the referenced
table (and every UPDATE of its key) scan the referencing table, so that is refused unless asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from dbtune.catalog import read_indexes, sqlalchemy_runner
from dbtune.errors import MigrationError
from dbtune.migrations import offline
from dbtune.migrations.catalog import ResolvedTable, columns, constraint, estimated_rows
from dbtune.migrations.failure import shown_by_alembic
from dbtune.migrations.lock_retry import retry_alter, sqlstate
from dbtune.migrations.operation import require_table, run_operation, session_settings
from dbtune.migrations.statements import drop_constraint, undone, validate_constraint
from dbtune.migrations.tunables import Tunables
from dbtune.sql.identifiers import ident
from dbtune.sql.index_spec import check_identifiers

FOREIGN_KEY_VIOLATION = "23503"
ACTIONS = {"NO ACTION": "a", "RESTRICT": "r", "CASCADE": "c", "SET NULL": "n", "SET DEFAULT": "d"}


def _action(value: str | None, which: str) -> str | None:
    if value is None:
        return None
    action = " ".join(value.upper().split())
    if action not in ACTIONS:
        raise MigrationError(f"{which}={value!r}: use one of {', '.join(ACTIONS)}")
    return action


@shown_by_alembic
def add_foreign_key_online(
    name: str,
    source: str,
    cols: Sequence[str],
    referent: str,
    ref_cols: Sequence[str],
    *,
    schema: str | None = None,
    referent_schema: str | None = None,
    ondelete: str | None = None,
    onupdate: str | None = None,
    allow_unindexed: bool = False,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> None:
    """``FOREIGN KEY (cols) REFERENCES referent (ref_cols)`` added NOT VALID, then validated.

    ``schema`` is the referencing table's, ``referent_schema`` the referenced one's (default:
    the same as ``schema``). ``ondelete``/``onupdate`` take the SQL actions (``"CASCADE"``...).
    """
    if not cols or len(cols) != len(ref_cols):
        raise MigrationError(
            f"foreign key {name}: give as many referenced columns as referencing ones "
            f"({len(cols)} and {len(ref_cols)})"
        )
    check_identifiers(name, source, referent, *cols, *ref_cols, schema, referent_schema)
    referent_schema = referent_schema or schema
    fk = _Definition(name, tuple(cols), tuple(ref_cols),
                     _action(ondelete, "ondelete"), _action(onupdate, "onupdate"))  # fmt: skip
    run_operation(
        _AddForeignKey(fk, source, schema, referent, referent_schema, allow_unindexed),
        lock_timeout=lock_timeout, lock_retries=lock_retries,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _AddForeignKey:
    fk: _Definition
    source: str
    schema: str | None
    referent: str
    referent_schema: str | None
    allow_unindexed: bool

    def online(self, conn: sa.Connection, budget: Tunables) -> None:
        source = require_table(conn, self.source, self.schema)
        referent = require_table(conn, self.referent, self.referent_schema)
        _add(conn, self.fk, source, referent, budget, self.allow_unindexed)

    def as_sql(self, budget: Tunables) -> None:
        statement = self.fk.statement(
            ident(*([self.schema] if self.schema else []), self.source),
            ident(*([self.referent_schema] if self.referent_schema else []), self.referent),
        )
        offline.add_foreign_key(
            statement, self.source, self.schema, self.fk.name, budget.lock_timeout
        )


@dataclass(frozen=True, slots=True)
class _Definition:
    name: str
    cols: tuple[str, ...]
    ref_cols: tuple[str, ...]
    ondelete: str | None
    onupdate: str | None

    def statement(self, source: sql.Composable, referent: sql.Composable) -> sql.Composed:
        actions = [
            sql.SQL(f"ON {verb} {action}")
            for verb, action in (("DELETE", self.ondelete), ("UPDATE", self.onupdate))
            if action is not None
        ]
        return sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){} NOT VALID"
        ).format(
            source,
            ident(self.name),
            sql.SQL(", ").join(ident(c) for c in self.cols),
            referent,
            sql.SQL(", ").join(ident(c) for c in self.ref_cols),
            sql.SQL("").join(sql.SQL(" ") + a for a in actions),
        )


def _attnums(conn: sa.Connection, table: ResolvedTable, wanted: Sequence[str]) -> tuple[int, ...]:
    found = columns(conn, table)
    missing = [c for c in wanted if c not in found]
    if missing:
        raise MigrationError(
            f"column(s) {', '.join(missing)} not in {table.display}; columns are matched "
            "exactly (case-sensitive)"
        )
    return tuple(found[c].attnum for c in wanted)


def has_leading_index(conn: sa.Connection, table: ResolvedTable, attnums: Sequence[int]) -> bool:
    """A valid, non-partial index whose leading key columns are exactly these (any order):
    what a DELETE on the referenced table needs to find the referencing rows."""
    width = len(attnums)
    return any(
        index.valid and not index.predicate and set(index.key_attnums[:width]) == set(attnums)
        for index in read_indexes(sqlalchemy_runner(conn), tables=[table.oid])
    )


def _add(
    conn: sa.Connection,
    fk: _Definition,
    source: ResolvedTable,
    referent: ResolvedTable,
    budget: Tunables,
    allow_unindexed: bool,
) -> None:
    local = _attnums(conn, source, fk.cols)
    remote = _attnums(conn, referent, fk.ref_cols)
    existing = constraint(conn, source, fk.name)
    if existing is not None and (
        existing.kind != "f"
        or existing.referent_oid != referent.oid
        or existing.columns != local
        or existing.referent_columns != remote
        or existing.on_delete != ACTIONS[fk.ondelete or "NO ACTION"]
        or existing.on_update != ACTIONS[fk.onupdate or "NO ACTION"]
    ):
        raise MigrationError(
            f"{source.display} already has a constraint {fk.name} with another definition; "
            "drop it or give the foreign key another name"
        )
    if existing is not None and existing.validated:
        return
    if not allow_unindexed and not has_leading_index(conn, source, local):
        raise MigrationError(_unindexed(conn, fk, source, referent))
    tables = (source.oid, referent.oid)
    validate = validate_constraint(source.identifier, fk.name)
    with session_settings(conn, budget.lock_timeout):
        try:
            if existing is None:
                what = f"add foreign key {fk.name} from {source.display} to {referent.display}"
                add = fk.statement(source.identifier, referent.identifier)
                retry_alter(conn, what, tables, budget, add, every_lock=False)
            what = f"validate foreign key {fk.name} on {source.display}"
            retry_alter(conn, what, tables, budget, validate)
        except sa.exc.DBAPIError as exc:
            if sqlstate(exc) != FOREIGN_KEY_VIOLATION:
                raise
            raise MigrationError(_violated(conn, fk, source, exc)) from None
        except MigrationError as exc:  # the budget is spent: say what is left
            raise MigrationError(exc.message + " " + _drop_quietly(conn, fk, source)) from None


def _unindexed(
    conn: sa.Connection, fk: _Definition, source: ResolvedTable, referent: ResolvedTable
) -> str:
    rows = estimated_rows(conn, source)
    size = f"all {rows:,} rows of" if rows is not None else "all of"
    cols = ", ".join(repr(c) for c in fk.cols)
    keys = ", ".join(ident(c).as_string() for c in fk.cols)
    fix = (
        f"create_index_online({'_'.join(('ix', source.name, *fk.cols))!r}, "
        f"{source.name!r}, [{cols}], schema={source.schema!r})"
    )
    cost = (
        f"each row deleted from {referent.display} (or each change of its key) would "
        f"make PostgreSQL read {size} {source.display} looking for referencing rows"
    )
    return (
        f"foreign key {fk.name}: no index on {source.display} leads with ({keys}), so {cost}, "
        f"holding its locks meanwhile. Build one first in the same revision: {fix}; or pass "
        "allow_unindexed=True if rows of the referenced table are never deleted"
    )


def _violated(
    conn: sa.Connection, fk: _Definition, source: ResolvedTable, exc: sa.exc.DBAPIError
) -> str:
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    detail = getattr(diag, "message_detail", None) or "a row references a missing key"
    return (
        f"foreign key {fk.name} on {source.display} does not hold for the existing rows: "
        f"{detail} Fix or delete those rows, then run again. {_drop_quietly(conn, fk, source)}"
    )


def _drop_quietly(conn: sa.Connection, fk: _Definition, source: ResolvedTable) -> str:
    """A failed run takes its NOT VALID constraint away again, so the tables are as before."""
    if constraint(conn, source, fk.name) is None:
        return "Nothing was added."
    drop = drop_constraint(source.identifier, fk.name)
    if not undone(drop):
        return (
            f"The NOT VALID foreign key {fk.name} is left (it checks new rows); the next run "
            f"validates it, or drop it: {drop.as_string()};"
        )
    return f"The NOT VALID foreign key {fk.name} was dropped again; nothing is left."
