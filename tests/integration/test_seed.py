"""dbtune seed on a real database: skew, time order, determinism, safety."""

from __future__ import annotations

import psycopg
import pytest

from dbtune.errors import UsageError
from dbtune.reference import schema as reference_schema
from dbtune.reference.seed import seed
from tests.integration.helpers import run_cli


def _fingerprint(url: str) -> tuple[object, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), md5(string_agg(user_id || role || md5(content) "
            "|| coalesce(message_type, '-'), ',' ORDER BY id)) FROM conversation_history"
        ).fetchone()
        food = conn.execute("SELECT count(*), sum(calories) FROM food_entries").fetchone()
    assert row is not None
    assert food is not None
    return (*row, *food)


def test_same_seed_same_data_other_seed_other_data(empty_url: str, seeded_url: str) -> None:
    from tests.servers import SEEDED_MESSAGES, SEEDED_USERS

    reference_schema.upgrade(empty_url)
    seed(empty_url, messages=SEEDED_MESSAGES, users=SEEDED_USERS)
    assert _fingerprint(empty_url) == _fingerprint(seeded_url)

    seed(empty_url, messages=SEEDED_MESSAGES, users=SEEDED_USERS, seed_value=7, replace=True)
    assert _fingerprint(empty_url) != _fingerprint(seeded_url)


def test_rows_are_skewed_time_ordered_and_varied(seeded_url: str) -> None:
    with psycopg.connect(seeded_url) as conn:
        top, median = conn.execute(
            "WITH c AS (SELECT count(*) AS n FROM conversation_history GROUP BY user_id) "
            "SELECT max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM c"
        ).fetchone() or (0, 0)
        out_of_order = conn.execute(
            "SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back"
            " FROM conversation_history) t WHERE back"
        ).fetchone()
        p50, p99, longest = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY length(content)),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY length(content)), max(length(content))"
            " FROM conversation_history"
        ).fetchone() or (0, 0, 0)
        visible = conn.execute(
            "SELECT relallvisible > 0 FROM pg_class WHERE relname = 'conversation_history'"
        ).fetchone()
    assert top >= 20 * median  # a few very heavy users, a long light tail
    assert out_of_order == (0,)
    assert p50 < 200 < 1000 < p99
    assert longest > 5000
    assert visible == (True,)  # VACUUM ran: the visibility map is set


def test_refuses_a_database_that_has_data(seeded_url: str) -> None:
    with pytest.raises(UsageError, match="already holds"):
        seed(seeded_url, messages=10, users=2)


def test_cli_seeds_with_the_given_size(empty_url: str) -> None:
    reference_schema.upgrade(empty_url)
    run = run_cli("seed", "--dsn", empty_url, "--messages", "5000", "--users", "50")
    assert run.code == 0, run.stderr
    assert "seeded 5000 messages for 50 users" in run.stderr
    with psycopg.connect(empty_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM conversation_history), (SELECT count(*) FROM users),"
            " (SELECT count(*) FROM user_xp)"
        ).fetchone()
    assert counts == (5000, 50, 50)


def test_cli_without_a_schema_says_to_migrate(empty_url: str) -> None:
    run = run_cli("seed", "--dsn", empty_url, "--messages", "10")
    assert run.code == 2
    assert "alembic upgrade head" in run.stderr


_SCHEMA = """
SELECT 'index', c.relname, pg_get_indexdef(c.oid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND i.indisvalid
UNION ALL
SELECT 'key', conname, pg_get_constraintdef(oid) || ' valid=' || convalidated
FROM pg_constraint WHERE contype IN ('f', 'p', 'c') AND connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def test_the_load_puts_every_index_and_key_back_as_it_was(empty_url: str) -> None:
    """The seed drops secondary indexes and foreign keys for the load: after it, each is back
    by name with its exact definition, every key validated; a failed seed leaves them too."""
    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        before = conn.execute(_SCHEMA).fetchall()
    assert any(kind == "index" and "conversation_history" in d for kind, _, d in before)
    seed(empty_url, messages=2_000, users=50)
    with psycopg.connect(empty_url) as conn:
        after = conn.execute(_SCHEMA).fetchall()
    assert after == before
    with pytest.raises(UsageError):  # refused before anything is dropped
        seed(empty_url, messages=2_000, users=50)
    with psycopg.connect(empty_url) as conn:
        assert conn.execute(_SCHEMA).fetchall() == before


def test_a_failed_load_leaves_the_tables_empty_with_every_index_and_key(empty_url: str) -> None:
    """The load commits step by step on two sessions: when a step fails, the rows already
    in go and every dropped index and key comes back."""
    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:  # refuses every XP amount
        conn.execute("ALTER TABLE xp_transactions ADD CONSTRAINT ck_tiny CHECK (amount < 5)")
        before = conn.execute(_SCHEMA).fetchall()
    with pytest.raises(psycopg.errors.CheckViolation):
        seed(empty_url, messages=20_000, users=100)
    with psycopg.connect(empty_url) as conn:
        assert conn.execute(_SCHEMA).fetchall() == before
        assert conn.execute("SELECT count(*) FROM conversation_history").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('dbtune_seed_restore')").fetchone() == (None,)


def test_a_killed_seed_is_put_right_by_the_next(empty_url: str) -> None:
    """SIGKILL half-way through the load: the indexes and keys were dropped and committed; the
    next seed puts them back, drops the half-load, and seeds."""
    import os
    import signal
    import subprocess
    import sys
    import time

    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        before = conn.execute(_SCHEMA).fetchall()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    run = subprocess.Popen(
        [sys.executable, "-m", "dbtune", "seed", "--dsn", empty_url, "--messages", "3000000"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    with psycopg.connect(empty_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM conversation_history").fetchone() == (0,):
            assert run.poll() is None, "the seed ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait()
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert conn.execute("SELECT to_regclass('dbtune_seed_restore')").fetchone() != (None,)
        assert conn.execute(_SCHEMA).fetchall() != before  # half-way: indexes missing
    seed(empty_url, messages=2_000, users=50)
    with psycopg.connect(empty_url) as conn:
        assert conn.execute(_SCHEMA).fetchall() == before
        assert conn.execute("SELECT count(*) FROM conversation_history").fetchone() == (2000,)
        assert conn.execute("SELECT to_regclass('dbtune_seed_restore')").fetchone() == (None,)
