"""alembic upgrade / downgrade on a real database, through the CLI users run."""

from __future__ import annotations

import psycopg
import pytest

from dbtune.errors import MigrationError
from dbtune.reference import schema as reference_schema
from dbtune.reference.seed import TABLES
from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"
REFERENCE_TABLES = set(TABLES)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _index(url: str, name: str) -> tuple[bool, str] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [name],
        ).fetchone()
    return None if row is None else (row[0], row[1])


def test_upgrade_downgrade_upgrade_with_the_alembic_cli(empty_url: str) -> None:
    up = run_cli("upgrade", "head", module="alembic", env={"DATABASE_URL": empty_url})
    assert up.code == 0, up.stderr
    assert _tables(empty_url) >= REFERENCE_TABLES
    index = _index(empty_url, COVERING)
    assert index is not None
    valid, definition = index
    assert valid
    assert "(user_id, created_at DESC) INCLUDE (role, message_type)" in definition

    down = run_cli("-x", f"url={empty_url}", "downgrade", "base", module="alembic")
    assert down.code == 0, down.stderr
    assert _tables(empty_url) == {"alembic_version"}

    again = run_cli("-x", f"url={empty_url}", "upgrade", "head", module="alembic")
    assert again.code == 0, again.stderr
    assert _index(empty_url, COVERING) is not None


def test_async_url_runs_through_asyncpg(empty_url: str) -> None:
    async_url = empty_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    run = run_cli("-x", f"url={async_url}", "upgrade", "head", module="alembic")
    assert run.code == 0, run.stderr
    assert "conversation_history" in _tables(empty_url)


def test_messages_insert_with_only_the_required_columns(empty_url: str) -> None:
    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        user_id = conn.execute("INSERT INTO users (name) VALUES ('a') RETURNING id").fetchone()
        assert user_id is not None
        for role in ("user", "assistant"):
            conn.execute(
                "INSERT INTO conversation_history (user_id, role, content) VALUES (%s, %s, %s)",
                [user_id[0], role, "hello"],
            )
        rows = conn.execute(
            "SELECT role, created_at IS NOT NULL FROM conversation_history ORDER BY id"
        ).fetchall()
    assert rows == [("user", True), ("assistant", True)]


def test_an_invalid_leftover_is_rebuilt(seeded_url: str) -> None:
    """A failed concurrent build leaves an INVALID index that IF NOT EXISTS would accept."""
    reference_schema.downgrade(seeded_url, reference_schema.BASELINE)
    with (
        psycopg.connect(seeded_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.UniqueViolation),
    ):
        conn.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY {COVERING} ON conversation_history (user_id)"
        )
    leftover = _index(seeded_url, COVERING)
    assert leftover is not None
    assert leftover[0] is False

    reference_schema.upgrade(seeded_url)

    rebuilt = _index(seeded_url, COVERING)
    assert rebuilt is not None
    assert rebuilt[0] is True
    assert "INCLUDE (role, message_type)" in rebuilt[1]


def test_missing_url_is_one_line() -> None:
    run = run_cli("upgrade", "head", module="alembic")
    assert run.code != 0
    assert "no database URL" in run.stderr
    assert "Traceback" not in run.stderr


def test_unreachable_server_names_no_password() -> None:
    url = "postgresql://app:s3cret-pw@127.0.0.1:1/app"
    run = run_cli("-x", f"url={url}", "upgrade", "head", module="alembic")
    assert run.code != 0
    assert "cannot connect to 127.0.0.1:1/app" in run.stderr
    assert "s3cret-pw" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_programmatic_upgrade_reports_a_bad_revision(empty_url: str) -> None:
    with pytest.raises(MigrationError, match="no-such-revision"):
        reference_schema.upgrade(empty_url, "no-such-revision")


def test_offline_sql_needs_no_url() -> None:
    run = run_cli("upgrade", "head", "--sql", module="alembic")
    assert run.code == 0, run.stderr
    assert run.stdout.count("CREATE INDEX CONCURRENTLY IF NOT EXISTS") == 9
    assert "CREATE INDEX ix_" not in run.stdout  # never a plain, blocking build
