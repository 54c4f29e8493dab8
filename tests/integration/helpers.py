"""Running the CLI as a user would, for the integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from psycopg import sql

from dbtune.db.dsn import sqlalchemy_url
from tests.servers import TEST_DSN_ENV, Server

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    module: str = "dbtune",
    columns: str | None = "200",
) -> Run:
    """Run ``python -m <module> args`` as a user would, without DATABASE_URL unless given."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")}
    if columns is not None:
        full_env["COLUMNS"] = columns
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def public_indexes(url: str) -> dict[str, tuple[bool, str]]:
    """Each index of the public schema: (valid, pg_get_indexdef)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public'"
        ).fetchall()
    return {str(name): (bool(valid), str(definition)) for name, valid, definition in rows}


def alembic_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


@contextmanager
def revision(url: str, **opts: Any) -> Iterator[sa.Connection]:
    """Alembic's ``op`` inside a revision's transaction, as ``alembic upgrade`` runs one
    (``transaction_per_migration``); committed at the end unless the body raised."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            options = {"transaction_per_migration": True, **opts}
            context = MigrationContext.configure(conn, opts=options)
            with Operations.context(context), context.begin_transaction(_per_migration=True):
                yield conn
    finally:
        engine.dispose()


def one_row(url: str, query: str, params: Any = None) -> Any:
    """The one row ``query`` returns (its value when it has one column)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def worker_name(name: str) -> str:
    """``name`` for this test worker: on a server the workers share (``DBTUNE_TEST_DSN``), the
    xdist worker's id appended, so two workers never drop each other's database."""
    if os.environ.get(TEST_DSN_ENV):
        return name + os.environ.get("PYTEST_XDIST_WORKER", "")
    return name


def fresh_database(server: Server, name: str) -> str:
    """Database ``name`` (this worker's) on ``server``, dropped first if it was there; its
    URL."""
    name = worker_name(name)
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


@contextmanager
def another_database(server: Server, name: str) -> Iterator[str]:
    """A second fresh database beside the test's, dropped afterwards."""
    url = fresh_database(server, name)
    name = worker_name(name)
    try:
        yield url
    finally:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def why_advise_failed(design: dict[str, Any]) -> dict[str, Any]:
    """What kept an ``advise --format json`` run from exit 0, short enough for an assertion's
    message: the statements whose check fails under the design, with their measurements, and
    the indexes the measurements refused (a refusal under load is what has failed before)."""
    failing = [q for q in design["queries"] if not (q["after"] or {}).get("passed")]
    return {
        "failing": [(q["query"], q["after"], q["measured"]) for q in failing],
        "refused": design["refused"],
        "measured": {
            q["query"]: q["measured"]["verdict"] for q in design["queries"] if q["measured"]
        },
    }
