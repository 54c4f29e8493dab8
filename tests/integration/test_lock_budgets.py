"""Lock budgets: every operation retries short lock waits, names its blockers when it gives up,
and leaves a state that the next run of the same command completes; one Alembic run per
database at a time; a connect timeout on a server that never answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest

from dbtune.migrations.run_lock import LOCK_CLASS, LOCK_ID
from dbtune.reference import schema as reference_schema
from tests.integration.helpers import Run, public_indexes, run_cli
from tests.integration.helpers import alembic_version as _version

XP_INDEXES = {"ix_xp_transactions_user_id_created_at", "ix_user_xp_total_xp"}


def _indexes(url: str) -> dict[str, bool]:
    return {name: valid for name, (valid, _) in public_indexes(url).items()}


@contextmanager
def xp_writer(url: str) -> Iterator[int]:
    """A session that wrote an xp row and keeps its transaction open."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO xp_transactions (user_id, amount, reason) VALUES (1, 5, 'x')")
        yield conn.info.backend_pid
        conn.rollback()


def _alembic(url: str, *args: str) -> Run:
    return run_cli("-x", f"url={url}", *args, module="alembic")


def test_a_blocked_downgrade_names_the_blocker_and_leaves_nothing_invalid(
    seeded_url: str,
) -> None:
    head = _version(seeded_url)
    with xp_writer(seeded_url) as pid:
        time.sleep(1.0)  # older than the lock_timeout below
        run = _alembic(
            seeded_url, "-x", "lock_timeout=300ms", "-x", "lock_retries=1", "downgrade", "-1"
        )
        assert run.code != 0
        assert f"pid {pid}" in run.stderr
        assert "Traceback" not in run.stderr
        assert _version(seeded_url) == head
        assert all(_indexes(seeded_url).values())  # nothing INVALID
    again = _alembic(seeded_url, "downgrade", "-1")
    assert again.code == 0, again.stderr
    assert not XP_INDEXES & set(_indexes(seeded_url))
    up = _alembic(seeded_url, "upgrade", "head")
    assert up.code == 0, up.stderr
    assert set(_indexes(seeded_url)) >= XP_INDEXES


def test_a_downgrade_completes_when_the_blocker_ends_during_its_retries(seeded_url: str) -> None:
    with psycopg.connect(seeded_url) as blocker:
        blocker.execute("INSERT INTO xp_transactions (user_id, amount, reason) VALUES (1, 5, 'x')")
        timer = threading.Timer(2.0, blocker.rollback)
        timer.start()
        try:
            run = _alembic(
                seeded_url, "-x", "lock_timeout=300ms", "-x", "lock_retries=8", "downgrade", "-1"
            )
        finally:
            timer.join()
    assert run.code == 0, run.stderr
    assert not XP_INDEXES & set(_indexes(seeded_url))
    assert all(_indexes(seeded_url).values())


@pytest.mark.parametrize("setting", ["lock_retries=-1", "lock_retries=many", "lock_timeout=0"])
def test_a_nonsensical_budget_is_refused(seeded_url: str, setting: str) -> None:
    run = _alembic(seeded_url, "-x", setting, "downgrade", "-1")
    assert run.code != 0
    assert "Traceback" not in run.stderr
    assert setting.split("=")[0] in run.stderr
    assert set(_indexes(seeded_url)) >= XP_INDEXES


def test_a_second_run_waits_for_the_migration_lock_and_names_its_holder(seeded_url: str) -> None:
    reference_schema.downgrade(seeded_url, "0006_tracking")
    with psycopg.connect(seeded_url, application_name="other deploy") as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_ID])
        holder.commit()
        refused = _alembic(seeded_url, "-x", "migration_lock_wait=1s", "upgrade", "head")
        assert refused.code != 0
        assert f"pid {holder.info.backend_pid} (other deploy" in refused.stderr
        assert _version(seeded_url) == "0006_tracking"
        timer = threading.Timer(1.0, holder.close)
        timer.start()
        try:
            waited = _alembic(seeded_url, "upgrade", "head")
        finally:
            timer.join()
    assert waited.code == 0, waited.stderr
    assert "holds this database's migration lock" in waited.stderr
    assert set(_indexes(seeded_url)) >= XP_INDEXES


def test_two_upgrades_at_once_neither_deadlock_nor_drop_each_other(seeded_url: str) -> None:
    reference_schema.downgrade(seeded_url, reference_schema.BASELINE)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: _alembic(seeded_url, "upgrade", "head"), range(2)))
    assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
    indexes = _indexes(seeded_url)
    assert set(indexes) >= XP_INDEXES
    assert all(indexes.values())


def test_upgrade_gives_up_on_a_server_that_never_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        run = run_cli(
            "-x",
            f"url=postgresql://app:s3cret@127.0.0.1:{port}/app",
            "upgrade",
            "head",
            module="alembic",
            env={"PGCONNECT_TIMEOUT": "2"},
        )
        elapsed = time.monotonic() - started
    assert run.code != 0
    assert "cannot connect to 127.0.0.1" in run.stderr
    assert "s3cret" not in run.stderr + run.stdout
    # libpq's PGCONNECT_TIMEOUT, not forever, and not dbtune's own 10 s (tests/unit/test_dsn.py)
    assert elapsed < 9
