"""explain never writes, classifies statements from their parse tree, and reports every query.

Each test plants the attack or the failure on a real server and checks row counts, not only
exit codes: a write that slipped through would show as a changed count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import psycopg
import pytest

from dbtune.explain.runner import PlanOptions, QueryFailed, explain_query
from dbtune.sql import text as sqltext
from dbtune.workload import HotQuery, QueryProfile
from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"
RECENT = (
    "SELECT id, role, created_at FROM conversation_history WHERE user_id = %(u)s "
    "ORDER BY created_at DESC LIMIT 20"
)
HEAVY = 'u = { sql = "SELECT user_id FROM conversation_history GROUP BY 1 ORDER BY count(*) DESC LIMIT 1" }'  # noqa: E501


def _count(url: str, table: str = "conversation_history") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def _workload(tmp_path: Path, body: str) -> str:
    path = tmp_path / "w.toml"
    path.write_text(body, "utf-8")
    return str(path)


def _query(name: str, sql: str, extra: str = "") -> str:
    return f"[[query]]\nname = {json.dumps(name)}\nsql = {json.dumps(sql)}\n{extra}\n"


WRITE_THROUGH = [
    _query("sneaky", "SELECT 1; ROLLBACK; DELETE FROM conversation_history"),
    _query("sneaky", "SELECT 1; COMMIT; DELETE FROM conversation_history"),
    _query(
        "sneaky_picker",
        "SELECT %(u)s::bigint",
        'params.u = { sql = "SELECT 1; ROLLBACK; DELETE FROM conversation_history" }',
    ),
    _query(
        "sneaky_picker_write",
        "SELECT %(u)s::bigint",
        'params.u = { sql = "WITH d AS (DELETE FROM conversation_history RETURNING user_id) '
        'SELECT user_id FROM d" }',
    ),
]


@pytest.mark.parametrize("body", WRITE_THROUGH)
@pytest.mark.parametrize("flags", [(), ("--no-analyze",), ("--allow-writes",)])
def test_write_through_attempts_are_refused_and_change_nothing(
    seeded_url: str, tmp_path: Path, body: str, flags: tuple[str, ...]
) -> None:
    before = _count(seeded_url)
    run = run_cli("explain", "--dsn", seeded_url, "--workload", _workload(tmp_path, body), *flags)
    assert run.code == 2, run.stdout + run.stderr
    assert "w.toml:" in run.stderr  # names the file and the line
    assert _count(seeded_url) == before


def test_the_server_refuses_a_second_statement_even_if_the_parser_is_fooled(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second layer: the extended protocol runs one statement, whatever pglast said."""
    before = _count(seeded_url)
    fooled = sqltext.StatementInfo(sqltext.Access.READ, "SelectStmt", (), ())
    monkeypatch.setattr("dbtune.explain.runner.analyse", lambda _sql: fooled)
    query = HotQuery("sneaky", "SELECT 1; COMMIT; DELETE FROM conversation_history")
    with psycopg.connect(seeded_url) as conn:
        for analyze in (True, False):
            with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
                explain_query(
                    conn, QueryProfile(query, "default", {}), PlanOptions(analyze=analyze)
                )
            conn.rollback()
    assert _count(seeded_url) == before


def _run_json(url: str, tmp_path: Path, body: str, *flags: str) -> tuple[int, dict[str, Any]]:
    run = run_cli(
        "explain", "--dsn", url, "--workload", _workload(tmp_path, body), "--format", "json", *flags
    )
    return run.code, json.loads(run.stdout)


def test_a_read_with_the_word_update_in_a_literal_is_executed(
    seeded_url: str, tmp_path: Path
) -> None:
    sql = (
        "WITH labels AS (SELECT 'update' AS kind) SELECT c.id FROM conversation_history c, "
        "labels WHERE c.user_id = %(u)s ORDER BY c.created_at DESC LIMIT 20"
    )
    body = _query("labelled", sql, f"params.{HEAVY}\nexpect.max_buffers = 100000")
    code, report = _run_json(seeded_url, tmp_path, body)
    assert code == 0, report
    checks = {c["id"]: c for c in report["queries"][0]["checks"]}
    assert checks["buffers"]["status"] == "pass"  # measured: the query really ran
    assert report["queries"][0]["plan"]["execution_time_ms"] is not None


def test_a_locking_read_is_planned_only_unless_allowed(seeded_url: str, tmp_path: Path) -> None:
    sql = (
        "SELECT id FROM conversation_history WHERE user_id = %(u)s "
        "ORDER BY created_at DESC LIMIT 20 FOR UPDATE"
    )
    body = _query("lock_latest", sql, f"params.{HEAVY}\nexpect.max_buffers = 100000")
    code, report = _run_json(seeded_url, tmp_path, body)
    assert code == 0, report
    buffers = next(c for c in report["queries"][0]["checks"] if c["id"] == "buffers")
    assert buffers["status"] == "skip"
    assert buffers["message"] == "skipped (locking read: pass --allow-writes)"
    code, report = _run_json(seeded_url, tmp_path, body, "--allow-writes")
    assert code == 0, report
    buffers = next(c for c in report["queries"][0]["checks"] if c["id"] == "buffers")
    assert buffers["status"] == "pass"


def test_a_read_calling_a_volatile_function_is_planned_not_run(
    seeded_url: str, tmp_path: Path
) -> None:
    """nextval, pg_terminate_backend, dblink_exec: a read-only transaction does not stop
    everything a volatile function can do, so it is only planned unless --allow-writes."""

    def sequence_value() -> int:
        with psycopg.connect(seeded_url) as conn:
            row = conn.execute("SELECT last_value FROM users_id_seq").fetchone()
        assert row is not None
        return int(row[0])

    before = sequence_value()
    body = _query("next_id", "SELECT nextval('users_id_seq')", "expect.max_buffers = 1000")
    code, report = _run_json(seeded_url, tmp_path, body)
    assert code == 0, report
    query = report["queries"][0]
    assert query["notes"] == ["calls volatile function(s) nextval"]
    buffers = next(c for c in query["checks"] if c["id"] == "buffers")
    assert buffers["message"] == "skipped (calls nextval: pass --allow-writes)"
    assert sequence_value() == before
    terminate = _query(
        "terminate",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'dbtune-victim'",
    )
    with psycopg.connect(seeded_url, application_name="dbtune-victim", autocommit=True) as victim:
        code, report = _run_json(seeded_url, tmp_path, terminate)
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still connected
    assert code == 0, report
    assert report["queries"][0]["plan"]["execution_time_ms"] is None  # planned, not executed
    picker = _query(
        "by_victim",
        "SELECT %(pid)s::int",
        'params.pid = { sql = "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity '
        "WHERE application_name = 'dbtune-victim'\" }",
    )
    with psycopg.connect(seeded_url, application_name="dbtune-victim", autocommit=True) as victim:
        code, report = _run_json(seeded_url, tmp_path, picker)
        assert victim.execute("SELECT 1").fetchone() == (1,)
    assert code == 2
    assert "calls pg_terminate_backend" in report["queries"][0]["error"]


def test_one_failing_query_never_hides_the_others(seeded_url: str, tmp_path: Path) -> None:
    body = (
        _query("missing_table", "SELECT * FROM no_such_table")
        + _query(
            "recent\x01messages", RECENT, f"params.{HEAVY}\nexpect.index = {json.dumps(COVERING)}"
        )
        + _query("bad_column", "SELECT no_such_column FROM users")
    )
    code, report = _run_json(seeded_url, tmp_path, body)
    assert code == 2
    by_name = {q["name"]: q for q in report["queries"]}
    assert by_name["missing_table"]["status"] == "error"
    assert "alembic upgrade head" in by_name["missing_table"]["error"]
    assert by_name["bad_column"]["status"] == "error"
    assert by_name["recent\x01messages"]["status"] == "pass"
    path = _workload(tmp_path, body)
    for fmt in ("table", "markdown", "junit"):
        run = run_cli("explain", "--dsn", seeded_url, "--workload", path, "--format", fmt)
        assert run.code == 2
        assert "no_such_table" in run.stdout
        assert "bad_column" in run.stdout
        if fmt == "junit":
            suite = ElementTree.fromstring(run.stdout)  # valid XML despite the control character
            assert suite.get("errors") == "2"
            names = {case.get("classname") for case in suite.iter("testcase")}
            assert "dbtune.explain.recent\\x01messages[default]" in names
    assert "no_such_table" in run.stderr


def test_a_lock_wait_is_named_as_one(seeded_url: str, tmp_path: Path) -> None:
    body = _query("recent", RECENT, "params.u = 1")
    with psycopg.connect(seeded_url) as holder:
        holder.execute("LOCK TABLE conversation_history IN ACCESS EXCLUSIVE MODE")
        code, report = _run_json(seeded_url, tmp_path, body)
        holder.rollback()
    assert code == 2
    error = report["queries"][0]["error"]
    assert "lock" in error
    assert "lost its index" not in error


def test_row_counts_come_from_the_scanned_relation_not_its_name(
    seeded_url: str, tmp_path: Path
) -> None:
    """A tiny public.events must not switch off no_seq_scan on a big tenant.events."""
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tenant")
        conn.execute("CREATE TABLE tenant.events (id bigint, kind text)")
        conn.execute(
            "INSERT INTO tenant.events SELECT g, 'k' || (g % 7) FROM generate_series(1, 50000) g"
        )
        conn.execute("CREATE TABLE public.events (id bigint, kind text)")
        conn.execute("INSERT INTO public.events VALUES (1, 'k1')")
        conn.execute("ANALYZE tenant.events")
        conn.execute("ANALYZE public.events")
    body = _query("by_kind", "SELECT count(*) FROM tenant.events WHERE kind = 'k3'")
    code, report = _run_json(seeded_url, tmp_path, body)
    assert code == 1, report
    check = next(c for c in report["queries"][0]["checks"] if c["id"] == "no_seq_scan")
    assert check["status"] == "fail"
    assert "50,000 rows" in check["message"]


def test_a_statement_that_is_not_a_query_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        "explain",
        "--dsn",
        "postgresql://u@127.0.0.1:1/x",
        "--workload",
        _workload(tmp_path, _query("v", "VACUUM users")),
    )
    assert run.code == 2
    assert "VacuumStmt is not a query" in run.stderr


def test_explain_query_raises_query_failed_for_two_statements(seeded_url: str) -> None:
    with psycopg.connect(seeded_url) as conn, pytest.raises(QueryFailed, match="2 statements"):
        explain_query(conn, QueryProfile(HotQuery("q", "SELECT 1; SELECT 2"), "d", {}))
