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
    assert {q["name"] for q in report["queries"]} >= {"recent_messages", "leaderboard"}
    recent = [q for q in report["queries"] if q["name"] == "recent_messages"]
    assert [q["profile"] for q in recent] == ["heavy", "median", "light"]
    assert {c["id"] for c in recent[0]["checks"]} >= {"uses_index", "no_sort", "generic_plan"}
    assert all(c["status"] == "pass" for q in report["queries"] for c in q["checks"])
    assert COVERING in recent[0]["plan"]["indexes"]
    assert "Sort" not in recent[0]["plan"]["nodes"]
    listing = next(q for q in report["queries"] if q["name"] == "message_listing")
    assert listing["plan"]["heap_fetches"] == 0
    assert "Index Only Scan" in listing["plan"]["nodes"]


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


def _messages(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM conversation_history").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("extra", [[], ["--allow-writes"]], ids=["planned", "analyzed"])
def test_a_write_query_leaves_the_data_unchanged(
    seeded_url: str, tmp_path: Path, extra: list[str]
) -> None:
    before = _messages(seeded_url)
    workload = tmp_path / "write.toml"
    workload.write_text(
        '[[query]]\nname = "purge"\nsql = "DELETE FROM conversation_history"\n'
        "expect.no_seq_scan = false\n"
    )
    run = run_cli(
        "explain", "--dsn", seeded_url, "--workload", str(workload), "--format", "json", *extra
    )
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["queries"][0]["plan"]["nodes"][0] == "ModifyTable"
    executed = report["queries"][0]["plan"]["execution_time_ms"] is not None
    assert executed == bool(extra)  # ANALYZE only with --allow-writes
    assert _messages(seeded_url) == before


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
    cold = run_cli("explain", env=env, columns=None)  # as piped by a user: no COLUMNS
    assert cold.code == 0, cold.stdout + cold.stderr
    assert COVERING in cold.stdout
    assert "embedded PostgreSQL" in cold.stderr
    assert "seeded 100000 messages" in cold.stderr
    assert str(tmp_path / "home" / "pgdata") in cold.stderr

    warm = run_cli("explain", env=env)
    assert warm.code == 0, warm.stdout + warm.stderr
    assert "100000 messages already there" in warm.stderr

    # One rule for the database ([steady] 3): doctor, like explain, runs on the demo database;
    # a command for which the demo makes no sense says so the same way; a URL from the
    # environment is named in one line.
    doctor = run_cli("doctor", "--format", "json", env=env)
    assert doctor.code in (0, 1), doctor.stdout + doctor.stderr
    assert "100000 messages already there" in doctor.stderr
    assert json.loads(doctor.stdout)["target"].endswith("dbtune_demo")
    seed = run_cli("seed", env=env)
    assert seed.code == 2
    assert (
        "seed needs a database: pass --dsn postgresql://... or set DATABASE_URL (not the "
        "embedded demo database" in seed.stderr
    )
    with_env = run_cli("doctor", "--format", "json",
                       env={**env, "DATABASE_URL": "postgresql://app@127.0.0.1:1/app"})  # fmt: skip
    assert with_env.code == 2
    assert with_env.stderr.startswith("dbtune doctor: 127.0.0.1:1/app (from DATABASE_URL)\n")
