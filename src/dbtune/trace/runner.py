"""Run an Alembic chain one revision at a time and record what each statement did.

The revisions run through Alembic's own machinery (``EnvironmentContext`` with
``transaction_per_migration``, the script directory of the user's ``alembic.ini``), but not
through their ``env.py``: an ``env.py`` decides its own database URL (often from the
application's settings), and a trace must never run anywhere but the database it was given.
The engine is the trace's own, so every statement passes its event listeners
(:mod:`dbtune.trace.recorder`). It runs on the driver the URL names, as the application does:
a revision written for asyncpg (a ``%`` that psycopg would read as a placeholder) runs on
asyncpg, through SQLAlchemy's async engine and ``run_sync`` — Alembic's own recipe for async
applications.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from psycopg import sql
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dbtune.catalog import psycopg_runner, read_columns, read_indexes
from dbtune.db import connect, connection_error_text
from dbtune.db.dsn import describe, parse_target
from dbtune.errors import UsageError
from dbtune.sql.index_spec import ALIGNMENT_SLACK_BYTES, INDEX_TUPLE_HEADER_BYTES, max_width
from dbtune.trace.allows import read_allows
from dbtune.trace.record import RevisionTrace
from dbtune.trace.recorder import Recorder
from dbtune.trace.rules import Settings, registry
from dbtune.trace.scratch import empty_again, fill_empty_tables

DEFAULT_ROWS = 2000
Side = psycopg.Connection[tuple[Any, ...]]  # the trace's own autocommit connection for reads


@dataclass(frozen=True, slots=True)
class TraceOptions:
    ini: Path | None = None
    script_location: Path | None = None
    from_revision: str | None = None
    to_revision: str = "heads"
    version_table: str = "alembic_version"
    version_table_schema: str | None = None
    rows: int = 0  # rows given to each empty table before each revision (0: none)
    driver: str | None = None  # psycopg or asyncpg; None: the URL's (psycopg if it names none)
    only: frozenset[Path] | None = None  # trace only the revisions in these files
    settings: Settings = field(default_factory=Settings)
    before_each: Callable[[Side, str], list[str]] | None = None
    """Runs on the trace's own connection before each traced revision (its id given) and
    returns notes: ``trace --stats`` imports production's statistics there."""


@dataclass(slots=True)
class ChainTrace:
    target: str
    revisions: list[RevisionTrace]
    applied: list[str]  # revisions run without tracing (before --from, or not selected)
    notes: list[str]


def load_script(options: TraceOptions) -> tuple[Config, ScriptDirectory]:
    """The user's Alembic configuration and script directory, or a usage error saying which
    file or option is missing."""
    if options.script_location is not None:
        if not options.script_location.is_dir():
            raise UsageError(f"--script-location {options.script_location} is not a directory")
        config = Config(str(options.ini)) if options.ini else Config()
        config.set_main_option("script_location", str(options.script_location))
    else:
        ini = options.ini or Path("alembic.ini")
        if not ini.is_file():
            raise UsageError(
                f"no Alembic configuration at {ini}: pass -c path/to/alembic.ini or "
                "--script-location path/to/migrations"
            )
        config = Config(str(ini))
        if not config.get_main_option("script_location"):
            raise UsageError(f"{ini} has no script_location in its [alembic] section")
    try:
        script = ScriptDirectory.from_config(config)
    except CommandError as exc:
        raise UsageError(f"cannot read the Alembic chain: {exc}") from None
    if not script.get_heads():
        # Traced nothing would read as "all pass": say where trace looked instead.
        raise UsageError(
            f"no revision in {script.versions}: trace reads the chain from script_location's "
            "versions folder (and version_locations); if your env.py picks another folder "
            "at run time, point --script-location (or the ini's version_locations) at it"
        )
    return config, script


def _pending(script: ScriptDirectory, current: str | None, to: str) -> list[Script]:
    try:
        steps = list(script.iterate_revisions(to, current or "base", implicit_base=True))
    except CommandError as exc:
        raise UsageError(f"cannot find the revisions to trace: {exc}") from None
    return [s for s in reversed(steps) if isinstance(s, Script)]


def _entry_bounds(conn: Side) -> dict[tuple[int, str], tuple[str, int | None]]:
    """The widest possible entry of every btree index (None: a held column is unbounded)."""
    run = psycopg_runner(conn)
    indexes = [i for i in read_indexes(run) if i.method == "btree"]
    columns = read_columns(run, sorted({i.table_oid for i in indexes}))
    bounds: dict[tuple[int, str], tuple[str, int | None]] = {}
    for index in indexes:
        attnums = index.key_attnums + index.include_attnums
        if 0 in attnums:
            continue  # an expression: its width is not known from the catalog
        widths = [max_width(columns[(index.table_oid, n)].width) for n in attnums]
        total = (
            None
            if any(w is None for w in widths)
            else INDEX_TUPLE_HEADER_BYTES + sum((w or 0) + ALIGNMENT_SLACK_BYTES for w in widths)
        )
        bounds[(index.table_oid, index.name)] = (index.qualified, total)
    return bounds


def _existing(conn: Side) -> frozenset[int]:
    rows = conn.execute(
        "SELECT c.oid FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_(toast|temp)'"
    ).fetchall()
    return frozenset(int(r[0]) for r in rows)


def _version_oid(conn: Side, options: TraceOptions) -> list[int]:
    names = [n for n in (options.version_table_schema, options.version_table) if n]
    name = sql.Identifier(*names).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s)::oid", [name]).fetchone()
    return [int(row[0])] if row and row[0] is not None else []


class _Chain:
    def __init__(self, url: str, options: TraceOptions) -> None:
        self.url = url
        self.options = options
        self.config, self.script = load_script(options)
        target = parse_target(url)
        target = replace(target, driver=options.driver or target.driver or "psycopg")
        self.is_async = target.is_async
        if self.is_async:
            self.async_engine = create_async_engine(target.sqlalchemy(), poolclass=NullPool)
            self.engine = self.async_engine.sync_engine
        else:
            self.engine = sa.create_engine(target.sqlalchemy(), poolclass=NullPool)
        self.recorder = Recorder(self.engine, options.version_table, options.version_table_schema)
        self.version_opts: dict[str, str] = {"version_table": options.version_table}
        if options.version_table_schema:
            self.version_opts["version_table_schema"] = options.version_table_schema

    def run(self, body: Callable[[sa.Connection], ChainTrace]) -> ChainTrace:
        """``body`` on a connection of the URL's driver: a plain one, or an async one's sync
        face inside ``run_sync`` (where asyncpg's awaits can run under synchronous code)."""
        if not self.is_async:
            try:
                conn = self.engine.connect()
            except sa.exc.DBAPIError as exc:
                raise self._unreachable(exc) from None
            try:
                with conn:
                    return body(conn)
            finally:
                self.engine.dispose()

        async def run_async() -> ChainTrace:
            try:
                try:
                    connection = await self.async_engine.connect()
                except (sa.exc.DBAPIError, OSError) as exc:
                    raise self._unreachable(exc) from None
                try:
                    return await connection.run_sync(body)
                finally:
                    await connection.close()
            finally:
                await self.async_engine.dispose()

        return asyncio.run(run_async())

    def _unreachable(self, exc: Exception) -> UsageError:
        cause = getattr(exc, "orig", None) or exc
        return UsageError(f"cannot connect to {describe(self.url)}: {connection_error_text(cause)}")

    def current(self, conn: sa.Connection) -> str | None:
        context = MigrationContext.configure(conn, opts=dict(self.version_opts))
        heads = context.get_current_heads()
        if conn.in_transaction():
            conn.commit()
        if len(heads) > 1:
            raise UsageError(
                f"the database is at {len(heads)} heads ({', '.join(heads)}): trace one branch "
                "at a time with --from and --to"
            )
        return heads[0] if heads else None

    def upgrade(self, conn: sa.Connection, target: str) -> None:
        """``alembic upgrade target`` on ``conn``, each revision its own transaction."""

        def steps(revision: object, context: object) -> list[object]:
            return list(self.script._upgrade_revs(target, revision))  # type: ignore[arg-type]

        with EnvironmentContext(
            self.config, self.script, fn=steps, destination_rev=target
        ) as environment:
            environment.configure(
                connection=conn,
                transaction_per_migration=True,
                **self.version_opts,  # type: ignore[arg-type]
            )
            with environment.begin_transaction():
                environment.run_migrations()
        if conn.in_transaction():
            conn.commit()


@dataclass
class _Session:
    """One trace: the chain, its two connections (Alembic's and the observer's), the rules,
    the result so far, and the tables holding dbtune's rows."""

    chain: _Chain
    conn: sa.Connection
    side: Side
    rules: set[str]
    result: ChainTrace
    progress: Callable[[str], None]
    filled: set[int] = field(default_factory=set)
    synthetic: set[int] = field(default_factory=set)  # tables holding only dbtune's rows

    def apply(self, script: Script, why: str) -> None:
        self.progress(f"applying {script.revision} ({why})")
        self.chain.upgrade(self.conn, script.revision)
        self.result.applied.append(script.revision)

    def traced(self, script: Script) -> RevisionTrace:
        path = Path(script.path).resolve()
        return _traced(self.chain, self.conn, self.side, script, path, self.rules)


def trace_chain(
    url: str, options: TraceOptions, progress: Callable[[str], None] = lambda _: None
) -> ChainTrace:
    """Upgrade the database at ``url`` to ``options.from_revision`` untraced, then trace each
    pending revision up to ``options.to_revision``. A revision that fails stops the trace (its
    trace keeps the error); the database is left where the chain stopped."""
    chain = _Chain(url, options)
    with connect(url, autocommit=True) as side:  # first: its failure says what to check

        def body(conn: sa.Connection) -> ChainTrace:
            result = ChainTrace(describe(url), [], [], [])
            _trace_pending(_Session(chain, conn, side, set(registry()), result, progress))
            return result

        return chain.run(body)


def _trace_pending(session: _Session) -> None:
    """From ``--from`` (brought there untraced) to ``--to``, each pending revision traced."""
    chain, conn, options = session.chain, session.conn, session.chain.options
    current = chain.current(conn)
    if options.from_revision and options.from_revision != current:
        _upgrade_to_from(session, current, options.from_revision)
        current = chain.current(conn)
    pending = _pending(chain.script, current, options.to_revision)
    if not pending:
        _nothing_pending(session, current)
    for script in pending:
        if options.only is not None and Path(script.path).resolve() not in options.only:
            session.apply(script, "not selected")
            continue
        revision = _trace_one(session, script)
        if revision.error:
            break


def _nothing_pending(session: _Session, current: str | None) -> None:
    """No revision to trace. A database at the chain's head (a CI gate on a staging copy
    already migrated) is said so in a note; anything else — a fresh database, or a --from /
    --to range that selects nothing — is an error naming why, never a silent pass."""
    options = session.chain.options
    where = f"{session.result.target} is at {current or 'base'}"
    heads = set(session.chain.script.get_heads())
    if current in heads and not options.from_revision and options.to_revision in ("heads", "head"):
        session.result.notes.append(f"nothing to trace: {where}, the chain's head")
        return
    raise UsageError(
        f"nothing to trace: {where}, and --to {options.to_revision} names no revision after "
        f"it{f' (--from {options.from_revision})' if options.from_revision else ''}: --from "
        "and --to select the revisions traced"
    )


def _upgrade_to_from(session: _Session, current: str | None, target: str) -> None:
    """The revisions before ``--from``, untraced, in ONE run, as ``alembic upgrade REV`` runs
    them: a chain whose revisions cannot be replayed one run each (an Enum type two
    revisions' tables share is created once per run) is brought there as the users' own
    upgrade brings it."""
    pending = _pending(session.chain.script, current, target)
    session.progress(f"applying {len(pending)} revision(s) up to {target} (before --from)")
    session.chain.upgrade(session.conn, target)
    session.result.applied += [str(s.revision) for s in pending]


def _trace_one(session: _Session, script: Script) -> RevisionTrace:
    """The tables given rows and the statistics imported as asked, then the revision traced
    (and, when it fails on dbtune's rows, traced again without them)."""
    options, side, result = session.chain.options, session.side, session.result
    if options.rows:
        skip = _version_oid(side, options)
        left = fill_empty_tables(side, options.rows, skip, session.filled, session.synthetic)
        result.notes += [f"left empty: {why}" for why in left]
    if options.before_each is not None:
        session.progress(f"preparing the database for {script.revision}")
        notes = options.before_each(side, script.revision)
        result.notes += [n for n in notes if n not in result.notes]
    session.progress(f"tracing {script.revision}")
    revision = session.traced(script)
    result.revisions.append(revision)
    if revision.error and options.rows:
        revision = _failed(session, script)
    return revision


def _failed(session: _Session, script: Script) -> RevisionTrace:
    """A revision failed on a filled database: is it the revision, or dbtune's rows? Once
    more on the tables as they were (empty), which is what plain `alembic upgrade` from its
    parent would meet here. Returns the revision's trace to keep (its error says which)."""
    result = session.result
    revision = result.revisions[-1]
    assert revision.error is not None
    if not session.synthetic:
        revision.error += (
            " (no table holds dbtune's rows now: it fails as plain `alembic upgrade` from its "
            "parent would, the chain's own bug)"
        )
        return revision
    session.progress(f"tracing {script.revision} again, without dbtune's rows")
    why = empty_again(session.side, sorted(session.synthetic))
    if why:
        revision.error += f" (not tried without dbtune's rows: {why})"
        return revision
    session.synthetic.clear()
    again = session.traced(script)
    if again.error is None:
        result.revisions[-1] = again
        result.notes.append(
            f"{script.revision} fails on dbtune's synthetic rows ({revision.error}); it passes "
            "on its tables as they were (empty), and is traced so: check that its data change "
            "suits the rows production holds"
        )
        return again
    revision.error = (
        f"{again.error} (it fails without dbtune's rows too, as plain `alembic upgrade` from "
        "its parent would: the chain's own bug)"
        if _same_failure(revision.error, again.error)
        else f"{revision.error} (on dbtune's synthetic rows; without them it fails otherwise: "
        f"{again.error})"
    )
    return revision


def _same_failure(first: str, second: str) -> bool:
    """The same error class and first line, up to the figures in it (an OID, a row count)."""

    def shape(text: str) -> str:
        return "".join("9" if c.isdigit() else c for c in text)

    return shape(first) == shape(second)


def _traced(
    chain: _Chain, conn: sa.Connection, side: Side, script: Script, path: Path, rules: set[str]
) -> RevisionTrace:
    """Upgrade to ``script``'s revision with the recorder on: its trace, its error if it
    failed (its transaction rolled back)."""
    revision = RevisionTrace(
        str(script.revision),
        path,
        (script.doc or "").strip().splitlines()[0] if script.doc else "",
    )
    revision.allows, revision.allow_problems = read_allows(path, rules)
    revision.existing = _existing(side)
    revision.entry_bounds_before = _entry_bounds(side)
    chain.recorder.current = revision
    started = time.perf_counter()
    try:
        chain.upgrade(conn, script.revision)
    except Exception as exc:  # the revision's own error, whatever raised it
        first = str(exc).strip().splitlines()
        revision.error = f"{type(exc).__name__}: {first[0] if first else ''}"
        if conn.in_transaction():
            conn.rollback()
        return revision
    finally:
        chain.recorder.current = None
        revision.duration_ms = (time.perf_counter() - started) * 1000
    revision.entry_bounds_after = _entry_bounds(side)
    return revision


def selected_files(paths: Sequence[str]) -> frozenset[Path]:
    return frozenset(Path(p).resolve() for p in paths)
