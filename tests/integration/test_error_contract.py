"""The error contract on real servers: exit 2 and one line for usage, connection and permission
errors; a check that cannot run is reported as skipped (or its evidence as not measured) while
the others still run; nothing is changed by a command that failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.integration.helpers import run_cli


def _as_role(url: str, role: str, password: str) -> str:
    """The same database, logged in as another role."""
    from dbtune.db.dsn import libpq_url

    params = conninfo_to_dict(libpq_url(url))
    params.update(user=role, password=password)
    return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})


def _one_line_error(run: Any) -> None:
    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("dbtune")


def _plant_wide(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE INDEX ix_meta ON conversation_history (user_id) INCLUDE (metadata)")


def test_doctor_as_a_monitoring_role_reports_what_it_cannot_measure(seeded_url: str) -> None:
    _plant_wide(seeded_url)
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbtune_monitor")
        conn.execute("CREATE ROLE dbtune_monitor LOGIN PASSWORD 'monitor-pw' IN ROLE pg_monitor")
    try:
        run = run_cli(
            "doctor",
            "--dsn",
            _as_role(seeded_url, "dbtune_monitor", "monitor-pw"),
            "--format",
            "json",
        )
        assert run.code == 1, run.stderr
        report = json.loads(run.stdout)
        wide = next(c for c in report["checks"] if c["id"] == "wide_indexes")
        assert wide["findings"][0]["subject"] == "public.ix_meta"
        assert "not measured (permission denied" in wide["findings"][0]["message"]
        assert "monitor-pw" not in run.stdout + run.stderr
    finally:
        with psycopg.connect(seeded_url, autocommit=True) as conn:
            conn.execute("DROP OWNED BY dbtune_monitor")
            conn.execute("DROP ROLE dbtune_monitor")


def test_doctor_does_not_wait_behind_an_exclusive_lock(seeded_url: str) -> None:
    """The rest is inspected; every check that could not judge the locked table says so in its
    own entry (skipped, the table, why), none of them reports the table on definitions it never
    read (its foreign key's index looked missing), and the summary line counts them."""
    from dbtune.doctor import skips_locked

    _plant_wide(seeded_url)
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        conn.execute("CREATE INDEX ix_food_text ON food_entries (user_id) INCLUDE (description)")
    with psycopg.connect(seeded_url) as holder:
        holder.execute("LOCK TABLE conversation_history IN ACCESS EXCLUSIVE MODE")
        run = run_cli("doctor", "--dsn", seeded_url, "--format", "json", "--all")
        table = run_cli("doctor", "--dsn", seeded_url, "--all")
        holder.rollback()
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    wide = checks["wide_indexes"]
    assert [f["subject"] for f in wide["findings"]] == ["public.ix_food_text"]
    assert wide["status"] == "fail"  # what it could judge it judged
    blind = skips_locked()
    assert {"unindexed_foreign_keys", "redundant_indexes", "wide_indexes"} <= blind
    for check in blind:
        (not_judged,) = checks[check]["not_judged"]
        assert not_judged["table"] == "public.conversation_history"
        assert "ACCESS EXCLUSIVE" in not_judged["why"]
        if not checks[check]["findings"]:
            assert checks[check]["status"] == "skipped", check
    for check in set(checks) - blind:
        assert "not_judged" not in checks[check]
    unindexed = [f["subject"] for f in checks["unindexed_foreign_keys"]["findings"]]
    assert not [s for s in unindexed if "conversation_history" in s], unindexed
    assert (
        f"{len(blind)} check(s) could not judge public.conversation_history" in (report["notes"][0])
    )
    verdict = table.stdout.strip().splitlines()[-1]
    skipped = sum(1 for c in checks.values() if c["status"] == "skipped")
    assert f"; {skipped} skipped: " in verdict, verdict


def test_seed_without_insert_privilege_is_one_line(empty_url: str) -> None:
    from dbtune.reference import schema as reference_schema

    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbtune_reader")
        conn.execute("CREATE ROLE dbtune_reader LOGIN PASSWORD 'reader-pw'")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO dbtune_reader")
    try:
        run = run_cli("seed", "--dsn", _as_role(empty_url, "dbtune_reader", "reader-pw"))
        _one_line_error(run)
        assert "permission denied" in run.stderr
        assert "reader-pw" not in run.stderr
    finally:
        with psycopg.connect(empty_url, autocommit=True) as conn:
            conn.execute("DROP OWNED BY dbtune_reader")
            conn.execute("DROP ROLE dbtune_reader")


def test_seed_refuses_a_database_with_users_but_no_messages(empty_url: str) -> None:
    from dbtune.reference import schema as reference_schema

    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, name) VALUES (1, 'existing')")
    run = run_cli("seed", "--dsn", empty_url, "--messages", "100", "--users", "5")
    _one_line_error(run)
    assert "users" in run.stderr
    assert "--replace" in run.stderr
    with psycopg.connect(empty_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


@pytest.mark.parametrize(
    "args",
    [
        ("doctor", "--dsn", "postgresql://u:pw@127.0.0.1:1/d", "--unused-min-mb", "nan"),
        ("doctor", "--dsn", "postgresql://u:pw@127.0.0.1:1/d", "--unused-min-mb", "inf"),
        ("doctor", "--dsn", "postgresql://u:pw@127.0.0.1:1/d", "--instances", "0"),
        ("seed", "--dsn", "postgresql://u:pw@127.0.0.1:1/d", "--users", "3000000000"),
        ("seed", "--dsn", "postgresql://u:pw@127.0.0.1:1/d", "--messages", "-5"),
        ("explain", "--dsn", "postgresql://u:pw@127.0.0.1:65536/d"),
        ("explain", "--dsn", "postgresql://u:pw@127.0.0.1:port/d"),
        ("doctor", "--dsn", "postgresql://u:pw@127.0.0.1:1/d"),
        ("pool", "--dsn", "postgresql://u:pw@127.0.0.1:1/d"),
    ],
)
def test_bad_arguments_and_targets_are_one_line_exit_2(args: tuple[str, ...]) -> None:
    _one_line_error(run_cli(*args))


def test_a_workload_that_is_not_utf8_is_one_line(seeded_url: str, tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[query]]\nname = "caf\xe9"\nsql = "SELECT 1"\n'.encode("latin-1"))
    run = run_cli("explain", "--dsn", seeded_url, "--workload", str(path))
    _one_line_error(run)
    assert "not UTF-8" in run.stderr


def test_an_unusable_dbtune_home_is_one_line() -> None:
    run = run_cli("explain", env={"DBTUNE_HOME": "/proc/dbtune-cannot-live-here"})
    _one_line_error(run)
    assert "DBTUNE_HOME" in run.stderr


def test_doctor_losing_its_connection_is_a_connection_error(seeded_url: str) -> None:
    """A server restart mid-run: the catalog read fails on a dead session, and doctor says
    so as a connection error (exit 2), not as findings skipped."""
    from dbtune.db.dsn import libpq_url
    from dbtune.doctor import DoctorOptions
    from dbtune.doctor.run import _read
    from dbtune.errors import ConnectionFailed

    with psycopg.connect(libpq_url(seeded_url)) as doomed:
        doomed.read_only = True
        with psycopg.connect(seeded_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [doomed.info.backend_pid])
        with pytest.raises(ConnectionFailed, match="lost the connection"):
            _read(doomed, seeded_url, DoctorOptions())


def test_capture_as_a_role_that_may_not_read_the_settings_says_what_to_ask_for(
    empty_url: str,
) -> None:
    """No pg_stat_statements in this database, a role that may not read
    shared_preload_libraries: what to ask a superuser for, never the server's bare refusal."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbtune_app")
        conn.execute("CREATE ROLE dbtune_app LOGIN PASSWORD 'app-pw'")
    try:
        run = run_cli("workload", "capture", "--dsn", _as_role(empty_url, "dbtune_app", "app-pw"))
        _one_line_error(run)
        assert "permission denied to examine" not in run.stderr
        assert "may not read shared_preload_libraries" in run.stderr
        assert "CREATE EXTENSION pg_stat_statements" in run.stderr
        assert "GRANT pg_read_all_stats" in run.stderr
        assert "app-pw" not in run.stderr

        with psycopg.connect(empty_url, autocommit=True) as conn:  # another role's statements
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, code text)")
            conn.execute("SELECT pg_stat_statements_reset()")
            for i in range(3):
                conn.execute("SELECT id FROM orders WHERE code = %s", [str(i)])
        run = run_cli("workload", "capture", "--dsn", _as_role(empty_url, "dbtune_app", "app-pw"))
        _one_line_error(run)
        assert "hides the text of" in run.stderr
        assert "GRANT pg_read_all_stats TO dbtune_app" in run.stderr
        with psycopg.connect(empty_url, autocommit=True) as conn:  # the printed fix runs
            conn.execute("GRANT pg_read_all_stats TO dbtune_app")
        run = run_cli("workload", "capture", "--dsn", _as_role(empty_url, "dbtune_app", "app-pw"))
        assert run.code == 0, run.stderr
        assert "FROM orders WHERE code = $1" in run.stdout
    finally:
        with psycopg.connect(empty_url, autocommit=True) as conn:
            conn.execute("DROP OWNED BY dbtune_app")
            conn.execute("DROP ROLE dbtune_app")
