"""python -m dbtune explain against real databases: pass, regression, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"


def test_passes_at_head_after_seeding(seeded_url: str) -> None:
    run = run_cli("explain", "--dsn", seeded_url)
    assert run.code == 0, run.stdout + run.stderr
    assert COVERING in run.stdout
    assert "PASS" in run.stdout


def test_json_report_lists_each_query_with_its_plan(seeded_url: str) -> None:
    run = run_cli("explain", "--dsn", seeded_url, "--format", "json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["status"] == "pass"
    recent = next(q for q in report["queries"] if q["name"] == "recent_messages")
    assert {c["id"] for c in recent["checks"]} == {"uses_index", "no_sort"}
    assert COVERING in recent["plan"]["indexes"]
    assert "Sort" not in recent["plan"]["nodes"]


def test_fails_and_names_the_index_after_it_is_dropped(seeded_url: str) -> None:
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {COVERING}")
    run = run_cli("explain", "--dsn", seeded_url)
    assert run.code == 1, run.stdout + run.stderr
    assert f"expected index {COVERING}" in run.stdout
    assert "Seq Scan on conversation_history" in run.stdout
    assert "FAIL" in run.stdout


def test_database_url_is_used_when_no_dsn_is_given(seeded_url: str) -> None:
    run = run_cli("explain", env={"DATABASE_URL": seeded_url})
    assert run.code == 0, run.stderr
    assert "embedded" not in run.stderr


def test_the_read_only_transaction_is_rolled_back(seeded_url: str, tmp_path: Path) -> None:
    workload = tmp_path / "write.toml"
    workload.write_text('[[query]]\nname = "purge"\nsql = "DELETE FROM conversation_history"\n')
    run = run_cli("explain", "--dsn", seeded_url, "--workload", str(workload))
    assert run.code == 2
    assert "read-only transaction" in run.stderr
    with psycopg.connect(seeded_url) as conn:
        row = conn.execute("SELECT count(*) FROM conversation_history").fetchone()
    assert row is not None
    assert row[0] > 0


def test_unmigrated_database_says_to_upgrade(empty_url: str) -> None:
    run = run_cli("explain", "--dsn", empty_url)
    assert run.code == 2
    assert "alembic upgrade head" in run.stderr
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_unreachable_server_is_one_line_without_password() -> None:
    run = run_cli("explain", "--dsn", "postgresql://app:s3cret-pw@127.0.0.1:1/app")
    assert run.code == 2
    assert run.stderr.startswith("dbtune: error: cannot connect to 127.0.0.1:1/app")
    assert run.stderr.count("\n") == 1
    assert "s3cret-pw" not in run.stdout + run.stderr


def test_not_a_url_is_a_usage_error() -> None:
    run = run_cli("explain", "--dsn", "mysql://root:s3cret-pw@localhost/db")
    assert run.code == 2
    assert "not a PostgreSQL URL" in run.stderr
    assert "s3cret-pw" not in run.stderr


def test_malformed_workload_is_a_usage_error(tmp_path: Path) -> None:
    workload = tmp_path / "bad.toml"
    workload.write_text('[[query]]\nname = "x"\nsql = "SELECT 1"\nexpect.indx = "ix"\n')
    run = run_cli("explain", "--workload", str(workload))
    assert run.code == 2
    assert "expect.indx: unknown key" in run.stderr
    assert str(workload) in run.stderr


@pytest.mark.skipif(
    bool(os.environ.get("DBTUNE_TEST_DSN")),
    reason="the embedded path is tested in the embedded run",
)
def test_embedded_default_cold_then_warm(tmp_path: Path) -> None:
    """No --dsn and no DATABASE_URL: start, migrate and seed an embedded server, then reuse it."""
    env = {"DBTUNE_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    cold = run_cli("explain", env=env)
    assert cold.code == 0, cold.stdout + cold.stderr
    assert COVERING in cold.stdout
    assert "embedded PostgreSQL" in cold.stderr
    assert "seeded 100000 messages" in cold.stderr
    assert str(tmp_path / "home" / "pgdata") in cold.stderr

    warm = run_cli("explain", env=env)
    assert warm.code == 0, warm.stdout + warm.stderr
    assert "100000 messages already there" in warm.stderr
