"""python -m dbtune doctor on real databases: clean at head, each planted problem found."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from pglast import split

from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"


def _doctor(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    """doctor's JSON with every finding listed (the planted problems sit on small tables)."""
    run = run_cli("doctor", "--dsn", url, "--format", "json", "--all", *args)
    assert run.code in (0, 1), run.stderr
    return run.code, json.loads(run.stdout)


def _findings(report: dict[str, Any], check: str) -> list[dict[str, str]]:
    return next(c["findings"] for c in report["checks"] if c["id"] == check)


def test_a_fresh_reference_database_is_clean(seeded_url: str) -> None:
    code, report = _doctor(seeded_url)
    assert code == 0, [c for c in report["checks"] if c["findings"]]
    assert report["status"] == "pass"
    assert {c["status"] for c in report["checks"]} == {"pass"}


def _plant_invalid(conn: Any) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_broken ON conversation_history (user_id)")


def _plant_redundant(conn: Any) -> None:
    conn.execute(
        "CREATE INDEX ix_dup ON conversation_history (user_id, created_at DESC) "
        "INCLUDE (role, message_type)"
    )
    conn.execute("CREATE INDEX ix_prefix ON conversation_history (user_id)")
    conn.execute("CREATE INDEX users_id_copy ON users (id)")  # duplicates the primary key


def _plant_unused(conn: Any) -> None:
    conn.execute("CREATE INDEX ix_message_type ON conversation_history (message_type)")


def _plant_wide(conn: Any) -> None:
    conn.execute("CREATE INDEX ix_meta ON conversation_history (user_id) INCLUDE (metadata)")


def _plant_fk(conn: Any) -> None:
    conn.execute("DROP INDEX ix_tracking_entries_category_id")


def _plant_visibility(conn: Any) -> None:
    conn.execute("ALTER TABLE conversation_history SET (autovacuum_enabled = off)")
    conn.execute("UPDATE conversation_history SET message_type = message_type WHERE id % 2 = 0")


PLANTED: dict[str, tuple[Callable[[Any], None], list[str], tuple[str, ...]]] = {
    # finding id: (plant, words every format must show, extra doctor arguments)
    "invalid_indexes": (
        _plant_invalid,
        ["ix_broken", "DROP INDEX CONCURRENTLY public.ix_broken"],
        (),
    ),
    "redundant_indexes": (_plant_redundant, ["ix_dup", "ix_prefix", "users_id_copy"], ()),
    "unused_indexes": (
        _plant_unused,
        ["ix_message_type", "not been scanned since"],
        ("--unused-min-mb", "0"),
    ),
    "wide_indexes": (_plant_wide, ["ix_meta", "metadata (jsonb)", "widest current value"], ()),
    "unindexed_foreign_keys": (
        _plant_fk,
        ["tracking_entries", "category_id", "CREATE INDEX CONCURRENTLY"],
        (),
    ),
    "visibility": (
        _plant_visibility,
        ["conversation_history", "all-visible", "VACUUM (ANALYZE)"],
        (),
    ),
    "connections": (lambda conn: None, ["max_connections", "instance(s)"], ("--instances", "40")),
}


@pytest.mark.parametrize("finding", sorted(PLANTED))
def test_each_planted_problem_is_found_in_every_format(seeded_url: str, finding: str) -> None:
    plant, words, extra = PLANTED[finding]
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        plant(conn)
    code, report = _doctor(seeded_url, *extra)
    assert code == 1
    findings = _findings(report, finding)
    assert findings, report
    text = json.dumps(findings)
    for word in words:
        assert word in text, (word, findings)
    for fmt in ("table", "markdown", "junit"):
        run = run_cli("doctor", "--dsn", seeded_url, "--format", fmt, "--all", *extra)
        assert run.code == 1
        assert finding in run.stdout
        assert words[0] in run.stdout


def test_redundant_never_suggests_dropping_a_constraint_index(seeded_url: str) -> None:
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        _plant_redundant(conn)
    _, report = _doctor(seeded_url)
    fixes = [f["fix"] for f in _findings(report, "redundant_indexes")]
    assert "DROP INDEX CONCURRENTLY public.users_id_copy;" in fixes
    assert "DROP INDEX CONCURRENTLY public.ix_prefix;" in fixes
    assert not any("pkey" in fix or COVERING in fix for fix in fixes), fixes


def test_bad_input_is_one_line_exit_2() -> None:
    run = run_cli("doctor", "--dsn", "postgresql://app:s3cret-pw@127.0.0.1:1/app")
    assert run.code == 2
    assert run.stderr.startswith("dbtune: error: cannot connect to 127.0.0.1:1/app")
    assert "s3cret-pw" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "finding",
    # invalid_indexes: its rebuild fails again on the planted duplicates, by design; the
    # identifier test runs that fix after removing them. connections: the fix is a setting.
    sorted(set(PLANTED) - {"invalid_indexes", "connections"}),
)
def test_every_printed_fix_executes_and_clears_its_finding(seeded_url: str, finding: str) -> None:
    plant, _, extra = PLANTED[finding]
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        plant(conn)
    _, report = _doctor(seeded_url, *extra)
    fixes = [f["fix"] for f in _findings(report, finding)]
    assert fixes
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        for fix in fixes:
            for statement in split(fix):
                conn.execute(statement)
    _, after = _doctor(seeded_url, *extra)
    assert _findings(after, finding) == []
